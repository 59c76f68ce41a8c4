#!/usr/bin/env python3
"""Poison records in a piped stream: records no parser may choke on (half a million levels of JSON
nesting, invalid UTF-8, an escape that decodes to a lone surrogate, a number beyond a double) are
put with boto3 between ordinary JSON records, and read by two pipelines of `tideline serve`: one
that parses records with the json processor, one that hands them straight to the file
destination. Each poison record lands in the backup with the reason, every ordinary record is
delivered, and the server survives, then and after a SIGKILL and restart that reads the same
records again.

Run: python3 test_poison_records.py --tideline build/cli/tideline
"""

import base64
import glob
import json
import os
import time
import unittest
import urllib.request

import harness

STREAM = "piped"
SHARDS = 2
PIPELINES = ("parsed", "raw")

CONFIG = f"""
pipelines:
  - name: parsed
    source: {{stream: {STREAM}}}
    processors:
      - type: json
    buffer: {{size_mib: 1, interval_s: 0}}
    destination: {{file: {{path: ./out}}}}
    backup: {{path: ./backup}}
  - name: raw
    source: {{stream: {STREAM}}}
    buffer: {{size_mib: 1, interval_s: 0}}
    destination: {{file: {{path: ./out}}}}
    backup: {{path: ./backup}}
"""

POISON = [
    b'{"line":' + b"[" * 499_990 + b"]" * 499_990 + b"}",  # 1 MB (the limit is 1 MiB), 500,000 deep
    b'{"line":' + b"[" * 500_000 + b"}",           # deep and unclosed
    b'{"line":"\xff\xfe"}',                        # bytes that are not UTF-8
    b'{"line":"\\uDC00"}',                         # an escape that decodes to a lone surrogate
    b'{"line":"x","n":9e308}',                     # beyond a double
]
# What each pipeline's backup errorMessage says, per poison record.
REASONS = ["nested deeper than 100 levels", "nested deeper than 100 levels", "Invalid encoding",
           "Invalid UTF-8", "Number out of range"]


def ordinary(n):
    return json.dumps({"line": f"ok-{n}"}).encode()


class PoisonRecordsTest(unittest.TestCase):
    def setUp(self):
        self.server = harness.TidelineServer(name="poison")
        config = os.path.join(self.server.workdir, "tideline.yaml")
        with open(config, "w") as f:
            f.write(CONFIG)
        self.server.extra_args = ["--config", config]
        self.server.start()
        self.client = self.server.boto3_client()
        self.client.create_stream(StreamName=STREAM, ShardCount=SHARDS)
        harness.wait_stream_active(self.client, STREAM)

    def tearDown(self):
        self.server.cleanup()

    def put(self, data, key):
        r = self.client.put_record(StreamName=STREAM, Data=data, PartitionKey=key)
        self.assertIn("SequenceNumber", r)

    def wait_caught_up(self, records):
        deadline = time.monotonic() + harness.scaled(60)
        for name in PIPELINES:
            while True:
                s = self.server.pipeline_status(name)
                done = sum(sh["checkpointOffset"] for sh in s["shards"])
                if s["state"] == "running" and done == records:
                    break
                self.assertTrue(self.server.alive(), self.server.log_tail())
                self.assertLess(time.monotonic(), deadline, f"{name} did not catch up: {s}")
                time.sleep(0.1)  # polling the status with a deadline

    def delivered(self, name):
        lines = []
        for path in glob.glob(os.path.join(self.server.workdir, "out", name, "*.ndjson")):
            with open(path) as f:
                lines += [json.loads(line)["document"]["line"] for line in f]
        return lines

    def backed_up(self, name):
        out = []
        for path in glob.glob(os.path.join(self.server.workdir, "backup", name, "*", "*.ndjson")):
            with open(path) as f:
                for line in f:
                    d = json.loads(line)  # valid JSON, whatever the record held
                    out.append((d["errorCode"], d["errorMessage"],
                                base64.b64decode(d["rawData"])))
        return out

    def check(self, ordinary_lines, poison_copies):
        for name, code in (("parsed", "Json.ParseFailed"), ("raw", "InvalidDocument")):
            self.assertEqual(sorted(self.delivered(name)), sorted(ordinary_lines), name)
            backed = self.backed_up(name)
            self.assertEqual(len(backed), len(POISON) * poison_copies, [b[:2] for b in backed])
            for poison, reason in zip(POISON, REASONS):
                matching = [b for b in backed if b[2] == poison]
                self.assertEqual(len(matching), poison_copies, (name, poison[:20]))
                for error_code, message, _ in matching:
                    self.assertEqual(error_code, code)
                    self.assertIn(reason, message)

    def reset(self, name):
        req = urllib.request.Request(f"{self.server.endpoint}/pipelines/{name}/reset",
                                     data=b'{"position":"TRIM_HORIZON"}', method="POST")
        with urllib.request.urlopen(req, timeout=30) as r:
            self.assertEqual(r.status, 200)

    def put_round(self, first):
        for n in range(first, first + 10):
            self.put(ordinary(n), f"k{n}")
            if n % 2 == 1:
                self.put(POISON[(n - first) // 2], f"k{n}")  # between ordinary records

    def test_poison_goes_to_the_backup_the_rest_is_delivered_and_restarts_survive(self):
        self.put_round(0)
        self.wait_caught_up(15)
        self.check([f"ok-{n}" for n in range(10)], poison_copies=1)

        # A SIGKILL, a restart, and the same records read again from the start: no crash loop,
        # and what comes after is delivered.
        self.server.kill()
        self.server.start()
        self.client = self.server.boto3_client()  # the restarted server listens on a new port
        for name in PIPELINES:
            self.reset(name)
        self.put_round(10)
        self.wait_caught_up(30)
        self.assertTrue(self.server.alive(), self.server.log_tail())
        self.check([f"ok-{n}" for n in range(10)] * 2 + [f"ok-{n}" for n in range(10, 20)],
                   poison_copies=3)
        self.assertEqual(self.server.stop(), 0, self.server.log_tail())


if __name__ == "__main__":
    harness.main()
