#!/usr/bin/env python3
"""Pathological request bodies sent at once keep the server's peak RSS bounded: 8 concurrent
8 MiB bodies (PutRecords with a 4M-element Records array, and 8 MiB of '[') must leave VmHWM under
384 MiB, and the server keeps serving. Depends on bounded JSON parsing (element counts and depth)
as much as on the HTTP layer's in-flight budget.
Run: python3 test_memory_limits.py --tideline build/cli/tideline"""

import http.client
import sys
import threading

import harness
from harness import ServerTestCase, wait_stream_active

STREAM = "memory"
BODY_BYTES = 8 << 20  # the default server.max_body_bytes
CONCURRENT = 8
PEAK_RSS_LIMIT = 384 << 20


def records_array_body():
    """A PutRecords whose Records array has ~4M (empty) elements, padded to exactly 8 MiB."""
    head = ('{"StreamName":"%s","Records":[' % STREAM).encode()
    tail = b"]}"
    n = (BODY_BYTES - len(head) - len(tail) + 1) // 3
    body = head + b",".join([b"{}"] * n) + tail
    return body[:BODY_BYTES] if len(body) > BODY_BYTES else body + b" " * (BODY_BYTES - len(body))


def brackets_body():
    return b"[" * BODY_BYTES


def vm_hwm_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/PID/status")


class PathologicalBodiesTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.client.create_stream(StreamName=STREAM, ShardCount=1)
        wait_stream_active(cls.client, STREAM)

    def send_concurrently(self, bodies):
        barrier = threading.Barrier(len(bodies))
        results = [None] * len(bodies)

        def send(i, body):
            conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=120)
            try:
                barrier.wait(timeout=60)
                conn.request("POST", "/", body=body, headers={
                    "X-Amz-Target": harness.TARGET_PREFIX + "PutRecords",
                    "Content-Type": harness.CONTENT_TYPE})
                resp = conn.getresponse()
                resp.read()
                results[i] = resp.status
            except (OSError, http.client.HTTPException) as e:
                results[i] = e
            finally:
                conn.close()

        threads = [threading.Thread(target=send, args=(i, b)) for i, b in enumerate(bodies)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=180)
        return results

    def test_eight_concurrent_8mib_pathological_bodies_stay_under_384mib(self):
        bodies = [records_array_body() if i % 2 == 0 else brackets_body()
                  for i in range(CONCURRENT)]
        self.assertTrue(all(len(b) == BODY_BYTES for b in bodies))
        results = self.send_concurrently(bodies)
        self.assertTrue(self.server.alive(), "the server died\n" + self.server.log_tail())
        # Every request got an answer: a 4xx error (malformed or throttled), never a success.
        for r in results:
            self.assertIsInstance(r, int, f"no answer: {r!r}")
            self.assertGreaterEqual(r, 400)
            self.assertLess(r, 500)
        peak = vm_hwm_bytes(self.server.proc.pid)
        print(f"peak RSS (VmHWM) after {CONCURRENT} concurrent bodies: {peak >> 20} MiB",
              file=sys.stderr)
        self.assertLess(peak, PEAK_RSS_LIMIT, f"peak RSS {peak >> 20} MiB")
        # Still serving real requests.
        put = self.client.put_record(StreamName=STREAM, Data=b"x", PartitionKey="p")
        self.assertIn("SequenceNumber", put)


if __name__ == "__main__":
    harness.main()
