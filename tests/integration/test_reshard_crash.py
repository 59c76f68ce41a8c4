#!/usr/bin/env python3
"""Resharding crash drill: producers write while UpdateShardCount runs, and the server is
SIGKILLed a random few milliseconds after the reshard was sent (before, during or after its
write). After each restart the stream must be consistent: the open shards cover every hash key
exactly once, every parent named by a shard is closed and ends below its children's first
sequence number, no closed shard holds a record past its EndingSequenceNumber, and every
acknowledged record is readable exactly once at the shard and sequence number it was
acknowledged with (an unacknowledged one at most once).

Run: python3 test_reshard_crash.py --tideline build/cli/tideline
"""

import atexit
import os
import random
import shutil
import tempfile
import threading
import unittest

import harness
from harness import seq_offset

SEED = int(os.environ.get("TIDELINE_RESHARD_CRASH_SEED", "77"))
ROUNDS = int(os.environ.get("TIDELINE_RESHARD_CRASH_ROUNDS", "8"))
STREAM = "reshard-crash"
TRANSPORT_ERRORS = (OSError, harness.http.client.HTTPException, ValueError)


class Ledger:
    def __init__(self):
        self.lock = threading.Lock()
        self.acked = {}  # payload -> (shard id, sequence number)  GUARDED_BY lock
        self.unacked = set()  # payloads sent without a positive answer  GUARDED_BY lock


def producer(pid, port, ledger, stop, start_n):
    client = harness.RawKinesis("127.0.0.1", port, timeout=10)
    rng = random.Random(SEED * 1000 + start_n + pid)
    n = start_n
    try:
        while not stop.is_set():
            batch = [f"p{pid}-{n + i}" for i in range(50)]
            n += 50
            body = {"StreamName": STREAM, "Records": [
                {"Data": harness.b64(p.encode()), "PartitionKey": f"k{rng.randrange(1 << 30)}"}
                for p in batch]}
            try:
                status, resp = client.call("PutRecords", body)
            except TRANSPORT_ERRORS:
                with ledger.lock:
                    ledger.unacked.update(batch)
                return  # the server is gone
            with ledger.lock:
                if status != 200:
                    ledger.unacked.update(batch)
                    continue
                for p, res in zip(batch, resp["Records"]):
                    if "SequenceNumber" in res:
                        ledger.acked[p] = (res["ShardId"], res["SequenceNumber"])
                    else:
                        ledger.unacked.add(p)
    finally:
        client.close()


def read_shard(client, shard_id):
    status, r = client.call("GetShardIterator", {
        "StreamName": STREAM, "ShardId": shard_id, "ShardIteratorType": "TRIM_HORIZON"})
    assert status == 200, r
    it, recs = r["ShardIterator"], []
    for _ in range(100000):
        status, r = client.call("GetRecords", {"ShardIterator": it, "Limit": 10000})
        assert status == 200, r
        recs.extend((x["SequenceNumber"], harness.unb64(x["Data"]).decode()) for x in r["Records"])
        it = r.get("NextShardIterator")
        if it is None or (not r["Records"] and r["MillisBehindLatest"] == 0):
            return recs, r
    raise AssertionError(f"{shard_id} not drained")


class ReshardCrashDrillTest(unittest.TestCase):
    def setUp(self):
        workdir = tempfile.mkdtemp(prefix="tideline-reshard-crash-cfg-")
        atexit.register(shutil.rmtree, workdir, True)
        config = os.path.join(workdir, "tideline.yaml")
        with open(config, "w") as f:
            f.write("storage:\n  reshard_updating_delay_ms: 0\n")
        self.server = harness.TidelineServer(["--config", config], name="reshard-crash")
        self.server.start()
        status, r = self.server.raw_client().call("CreateStream",
                                                  {"StreamName": STREAM, "ShardCount": 2})
        self.assertEqual(status, 200, r)

    def tearDown(self):
        self.server.cleanup()

    def verify(self, ledger, round_no):
        where = f"after restart {round_no}"
        client = self.server.raw_client()
        status, r = client.call("ListShards", {"StreamName": STREAM})
        self.assertEqual(status, 200, r)
        shards = {s["ShardId"]: s for s in r["Shards"]}
        open_ranges = sorted((int(s["HashKeyRange"]["StartingHashKey"]),
                              int(s["HashKeyRange"]["EndingHashKey"]))
                             for s in shards.values()
                             if "EndingSequenceNumber" not in s["SequenceNumberRange"])
        self.assertEqual(open_ranges[0][0], 0, where)
        self.assertEqual(open_ranges[-1][1], 2**128 - 1, where)
        for (_, hi), (lo, _) in zip(open_ranges, open_ranges[1:]):
            self.assertEqual(hi + 1, lo, f"gap or overlap in the open shards {where}")
        for s in shards.values():
            for key in ("ParentShardId", "AdjacentParentShardId"):
                parent = shards.get(s.get(key))
                if parent is None:
                    continue
                ending = parent["SequenceNumberRange"].get("EndingSequenceNumber")
                self.assertIsNotNone(ending, f"parent of {s['ShardId']} is open {where}")
                self.assertLess(int(ending),
                                int(s["SequenceNumberRange"]["StartingSequenceNumber"]), where)
        positions = {}
        for sid, s in shards.items():
            recs, last = read_shard(client, sid)
            offsets = [seq_offset(q) for q, _ in recs]
            self.assertEqual(offsets, list(range(1, len(offsets) + 1)), f"{sid} {where}")
            ending = s["SequenceNumberRange"].get("EndingSequenceNumber")
            if ending is not None:
                self.assertIn("ChildShards", last, f"{sid} {where}")
                for q, _ in recs:
                    self.assertLessEqual(int(q), int(ending), f"{sid} past its end {where}")
            for q, payload in recs:
                self.assertNotIn(payload, positions, f"{payload} stored twice {where}")
                positions[payload] = (sid, q)
        client.close()
        with ledger.lock:
            for payload, at in ledger.acked.items():
                self.assertEqual(positions.get(payload), at, f"acked {payload} {where}")
            for payload in positions:
                self.assertTrue(payload in ledger.acked or payload in ledger.unacked,
                                f"{payload} was never sent")
        return len(positions), len(shards)

    def test_sigkill_around_reshards_leaves_a_consistent_stream(self):
        rng = random.Random(SEED)
        ledger = Ledger()
        target = 2
        reshards_seen = 0
        committed = 0  # rounds whose reshard was durable before the kill
        for round_no in range(1, ROUNDS + 1):
            stop = threading.Event()
            producers = [threading.Thread(target=producer,
                                          args=(p, self.server.port, ledger, stop,
                                                round_no * 10_000_000))
                         for p in range(2)]
            for t in producers:
                t.start()
            stop.wait(rng.uniform(0.1, 0.3))  # let records flow (pacing, not synchronization)
            before = target
            target = rng.choice([t for t in range(max(1, (target + 1) // 2), 2 * target + 1)
                                 if t != target and t <= 6])
            client = self.server.raw_client(timeout=10)

            def reshard():
                try:
                    client.call("UpdateShardCount", {"StreamName": STREAM,
                                                     "TargetShardCount": target,
                                                     "ScalingType": "UNIFORM_SCALING"})
                except TRANSPORT_ERRORS:
                    pass  # killed before it answered: either outcome is allowed

            resharder = threading.Thread(target=reshard)
            resharder.start()
            stop.wait(rng.uniform(0.0, 0.03))  # the kill lands before, during or after it
            self.server.kill()
            stop.set()
            resharder.join()
            for t in producers:
                t.join()
            client.close()
            self.server.start()
            records, shard_count = self.verify(ledger, round_no)
            reshards_seen = max(reshards_seen, shard_count)
            status, r = self.server.raw_client().call("ListShards", {
                "StreamName": STREAM, "ShardFilter": {"Type": "AT_LATEST"}})
            target = len(r["Shards"])
            committed += target != before
        print(f"{ROUNDS} kills, {committed} after the reshard was durable, "
              f"{len(ledger.acked)} records acknowledged, {reshards_seen} shards at most")
        self.assertGreater(reshards_seen, 2, "no reshard ever committed before a kill")
        self.assertGreater(len(ledger.acked), 0)


if __name__ == "__main__":
    harness.main()
