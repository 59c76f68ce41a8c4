#!/usr/bin/env python3
"""Lineage drill: a pipeline delivering into the fake OpenSearch keeps every partition key in
order across SplitShard, MergeShards and UpdateShardCount, and across SIGKILLs of the server.

Producers own a fixed set of partition keys and put records {"key": K, "n": N}, each key's
counter N+1 only after N was acknowledged. Meanwhile the test splits, merges and rescales the
stream and SIGKILLs and restarts the server. At the end every acknowledged (key, N) must be in
the index and, per key, the counters in order of first arrival at the index (the fake keeps
documents in first-write order) must be 0, 1, 2, ...: duplicates are allowed (at-least-once,
and a producer resends N when the server died before answering), but no counter may arrive
for the first time after a later one of its key did. Without lineage a child shard's records
overtake the older records of the same keys still unread in the parent.

The pipeline uses `concurrency: 1`: with parallel bulk requests, documents of one flush may
land in any order (as with Firehose), which is not what this checks.

Run: python3 test_lineage.py --tideline build/cli/tideline
"""

import json
import os
import subprocess
import threading
import time
import unittest

import harness
import test_opensearch_delivery as osd

SEED = int(os.environ.get("TIDELINE_LINEAGE_SEED", "4711"))
STREAM = "orders"
PIPELINE = "orders-index"
INDEX = "orders"
PRODUCERS = 4
KEYS_PER_PRODUCER = 6
PACE_S = 0.02  # producer rate limit (not synchronization)
STEP_RECORDS = 400  # acknowledged records between two steps of the drill
TRANSPORT_ERRORS = (OSError, harness.http.client.HTTPException, ValueError)


def write_config(workdir, fake_url):
    path = os.path.join(workdir, "tideline.yaml")
    with open(path, "w") as f:
        f.write(f"""
pipelines:
  - name: {PIPELINE}
    source:
      stream: {STREAM}
    buffer:
      interval_s: 1
      size_mib: 1
    destination:
      opensearch:
        url: {fake_url}
        index: {INDEX}
        rotation: NoRotation
        concurrency: 1
        keep_alive_connections: 1
    backup:
      path: ./backup
""")
    return path


class Ledger:
    def __init__(self):
        self.lock = threading.Lock()
        self.acked = {}  # key -> counters acknowledged (0..acked-1)  GUARDED_BY lock
        self.total = 0   # GUARDED_BY lock

    def snapshot(self):
        with self.lock:
            return dict(self.acked), self.total


def producer(pid, server, ledger, stop):
    keys = [f"key-{pid}-{i}" for i in range(KEYS_PER_PRODUCER)]
    next_n = dict.fromkeys(keys, 0)
    client, port = None, None
    while not stop.is_set():
        if server.port != port:
            if client is not None:
                client.close()
            port = server.port
            client = harness.RawKinesis("127.0.0.1", port, timeout=10)
        # One record per key and request: a key's next counter goes out only once the previous
        # one was acknowledged.
        records = [{"Data": harness.b64(json.dumps({"key": k, "n": next_n[k]}).encode()),
                    "PartitionKey": k} for k in keys]
        sent_at = time.monotonic()
        try:
            status, resp = client.call("PutRecords", {"StreamName": STREAM, "Records": records})
        except TRANSPORT_ERRORS:
            stop.wait(0.01)  # the server is down: back off before resending, not a sync
            continue
        if status == 200:
            with ledger.lock:
                for k, res in zip(keys, resp["Records"]):
                    if "SequenceNumber" in res:
                        next_n[k] += 1
                        ledger.acked[k] = next_n[k]
                        ledger.total += 1
        stop.wait(max(0.0, sent_at + PACE_S - time.monotonic()))
    if client is not None:
        client.close()


class LineageDrill(unittest.TestCase):
    def setUp(self):
        self.fake = osd.FakeOpenSearch(SEED, name="fake-lineage")
        self.fake.start()
        self.server = harness.TidelineServer(name="lineage")
        self.server.extra_args = ["--config", write_config(self.server.workdir, self.fake.url)]
        self.server.start()
        status, r = self.server.raw_client().call("CreateStream",
                                                  {"StreamName": STREAM, "ShardCount": 2})
        self.assertEqual(status, 200, r)
        harness.wait_stream_active(self.server.boto3_client(), STREAM)

    def tearDown(self):
        harness.stop_and_clean(self.server, self.fake.cleanup)

    # ---- stream helpers -------------------------------------------------------------------

    def call(self, operation, body):
        client = self.server.raw_client()
        try:
            return client.call(operation, body)
        finally:
            client.close()

    def shards(self):
        status, r = self.call("DescribeStream", {"StreamName": STREAM})
        self.assertEqual(status, 200, r)
        return r["StreamDescription"]["Shards"]

    def open_shards(self):
        """Open shards by starting hash key."""
        shards = [s for s in self.shards()
                  if "EndingSequenceNumber" not in s["SequenceNumberRange"]]
        return sorted(shards, key=lambda s: int(s["HashKeyRange"]["StartingHashKey"]))

    def reshard(self, operation, body):
        """Runs a reshard, retrying while the stream is still UPDATING from the previous one."""
        deadline = time.monotonic() + harness.scaled(30)
        while True:
            status, r = self.call(operation, dict(body, StreamName=STREAM))
            if status == 200:
                return
            self.assertEqual(r.get("__type"), "ResourceInUseException", (operation, r))
            self.assertLess(time.monotonic(), deadline, f"{operation} kept failing: {r}")
            time.sleep(0.05)  # polling the stream status with a deadline

    def split_widest(self):
        shard = max(self.open_shards(), key=lambda s: int(s["HashKeyRange"]["EndingHashKey"]) -
                    int(s["HashKeyRange"]["StartingHashKey"]))
        lo = int(shard["HashKeyRange"]["StartingHashKey"])
        hi = int(shard["HashKeyRange"]["EndingHashKey"])
        self.reshard("SplitShard", {"ShardToSplit": shard["ShardId"],
                                    "NewStartingHashKey": str((lo + hi) // 2 + 1)})

    def merge_first_two(self):
        a, b = self.open_shards()[:2]
        self.reshard("MergeShards", {"ShardToMerge": a["ShardId"],
                                     "AdjacentShardToMerge": b["ShardId"]})

    def scale(self, target):
        self.reshard("UpdateShardCount", {"TargetShardCount": target,
                                          "ScalingType": "UNIFORM_SCALING"})

    def kill_and_restart(self):
        self.server.kill()
        self.server.start()

    def wait_progress(self, ledger, records, what):
        """Waits (bounded) until the producers got `records` more acknowledged."""
        _, start = ledger.snapshot()
        deadline = time.monotonic() + harness.scaled(60)
        while ledger.snapshot()[1] < start + records:
            self.assertLess(time.monotonic(), deadline,
                            f"producers stalled after {what}\n{self.server.log_tail()}")
            time.sleep(0.02)  # polling the producers' progress with a deadline

    # ---- the drill ------------------------------------------------------------------------

    def test_every_key_arrives_in_order_across_reshards_and_kills(self):
        ledger, stop = Ledger(), threading.Event()
        threads = [threading.Thread(target=producer, args=(p, self.server, ledger, stop))
                   for p in range(PRODUCERS)]
        for t in threads:
            t.start()
        steps = [("split", self.split_widest), ("kill", self.kill_and_restart),
                 ("merge", self.merge_first_two), ("scale to 4", lambda: self.scale(4)),
                 ("kill", self.kill_and_restart), ("split", self.split_widest),
                 ("merge", self.merge_first_two), ("kill", self.kill_and_restart),
                 ("scale to 2", lambda: self.scale(2)), ("kill", self.kill_and_restart),
                 ("split", self.split_widest)]
        try:
            self.wait_progress(ledger, STEP_RECORDS, "the start")
            for what, step in steps:
                step()
                self.wait_progress(ledger, STEP_RECORDS, what)
        finally:
            stop.set()
            for t in threads:
                t.join()
        acked, total = ledger.snapshot()
        self.assertEqual(len(acked), PRODUCERS * KEYS_PER_PRODUCER)

        # Caught up: every shard checkpointed to its end and every acknowledged record indexed.
        deadline = time.monotonic() + harness.scaled(90)
        while True:
            status = self.server.pipeline_status(PIPELINE)
            docs = self.fake.docs(INDEX)
            if (status["bufferedRecords"] == 0 and all(s["lag"] == 0 for s in status["shards"])
                    and len(docs) >= total):
                break
            self.assertLess(time.monotonic(), deadline,
                            f"the pipeline did not catch up: {json.dumps(status)[:3000]}\n"
                            f"{len(docs)} documents of {total}\n{self.server.log_tail()}")
            time.sleep(0.1)  # polling the status with a deadline

        first_seen = {}  # key -> counters in order of first arrival
        seen = {}
        for d in docs:
            src = d["_source"]
            key, n = src["key"], src["n"]
            if n in seen.setdefault(key, set()):
                continue  # delivered again or resent: at-least-once
            seen[key].add(n)
            first_seen.setdefault(key, []).append(n)
        for key, count in sorted(acked.items()):
            order = first_seen.get(key, [])
            self.assertGreaterEqual(len(order), count,
                                    f"{key}: {count} acknowledged, {len(order)} indexed")
            # A counter past the acknowledged ones was sent when the server died: it may be there.
            wrong = [(i, n) for i, n in enumerate(order) if n != i]
            self.assertEqual(wrong, [], f"{key}: counters out of order at the index "
                                        f"(position, counter): {wrong[:5]} of {order}")

        # Status: closed shards finished, open ones reading; the CLI shows the states.
        shards = {s["ShardId"]: s for s in self.shards()}
        states = {s["shardId"]: s["state"] for s in status["shards"] if s["shardId"] in shards}
        self.assertEqual(set(states), set(shards))
        for sid, shard in shards.items():
            closed = "EndingSequenceNumber" in shard["SequenceNumberRange"]
            self.assertEqual(states[sid], "finished" if closed else "reading", (sid, status))
        out = subprocess.run([harness.TIDELINE_BINARY, "pipeline", "status", PIPELINE,
                              "--endpoint", self.server.endpoint], capture_output=True, text=True,
                             timeout=60, check=True).stdout
        self.assertRegex(out, r"\n  shardId-000000000000 +finished ")
        self.assertEqual(self.server.stop(), 0, self.server.log_tail())


if __name__ == "__main__":
    harness.main()
