#!/usr/bin/env python3
"""Crash drill: producers write continuously while the server is SIGKILLed at random moments and
restarted on the same data directory. After every restart, every acknowledged record must be
readable at the sequence number it was acknowledged with, per shard in order, with dense offsets
and no duplicates; an unacknowledged (in-flight) record may be there, but at most once, and once
seen it stays.

Run: python3 test_crash.py --tideline build/cli/tideline [--kills N] (default 20)
"""

import hashlib
import os
import random
import sys
import threading
import time
import unittest

import harness
from harness import seq_offset

SEED = int(os.environ.get("TIDELINE_CRASH_SEED", "424242"))
KILLS = int(os.environ.get("TIDELINE_CRASH_KILLS", "20"))
PRODUCERS = 3
SHARDS = 4
STREAM = "crash"
TIME_BUDGET_S = harness.scaled(170.0)  # TIDELINE_TEST_TIME_FACTOR stretches it
# Each producer sends at most one batch per PACE_S (about 3 * 125 / 0.04 = 9k records/s in all):
# every restart re-reads the whole stream, so the stream must stay small enough to read 20 times.
PACE_S = 0.04
TRANSPORT_ERRORS = (OSError, harness.http.client.HTTPException, ValueError)


class Ledger:
    """What the producers know: acknowledged records and sent-but-unacknowledged ones."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acked = {}  # payload -> (shard id, sequence number, partition key)  GUARDED_BY lock
        self.unacked = {}  # payload -> partition key (sent, no positive answer)    GUARDED_BY lock
        self.errors = {}  # error kind -> count                                     GUARDED_BY lock

    def record_batch(self, batch, status, body):
        with self.lock:
            if status != 200:
                kind = (body or {}).get("__type", f"HTTP {status}")
                self.errors[kind] = self.errors.get(kind, 0) + 1
                self.unacked.update((r["payload"], r["pk"]) for r in batch)
                return
            for req, res in zip(batch, body["Records"]):
                if "SequenceNumber" in res:
                    self.acked[req["payload"]] = (res["ShardId"], res["SequenceNumber"],
                                                  req["pk"])
                else:
                    self.unacked[req["payload"]] = req["pk"]
                    kind = res.get("ErrorCode", "?")
                    self.errors[kind] = self.errors.get(kind, 0) + 1

    def record_lost_batch(self, batch, exc):
        with self.lock:
            kind = type(exc).__name__
            self.errors[kind] = self.errors.get(kind, 0) + 1
            self.unacked.update((r["payload"], r["pk"]) for r in batch)


class Gate:
    """Lets the drill pause every producer between two requests and know they are all idle."""

    def __init__(self, producers):
        self.cond = threading.Condition()
        self.open = True  # GUARDED_BY cond
        self.idle = 0  # GUARDED_BY cond
        self.producers = producers

    def checkpoint(self, stop):
        with self.cond:
            if self.open:
                return
            self.idle += 1
            self.cond.notify_all()
            while not self.open and not stop.is_set():
                self.cond.wait(0.5)
            self.idle -= 1

    def close_and_wait_idle(self, deadline_s=30.0):
        with self.cond:
            self.open = False
            ok = self.cond.wait_for(lambda: self.idle == self.producers, timeout=deadline_s)
        if not ok:
            raise AssertionError("producers did not pause within the deadline")

    def reopen(self):
        with self.cond:
            self.open = True
            self.cond.notify_all()


def producer(pid, server, ledger, gate, stop):
    rng = random.Random(SEED * 100 + pid)
    client, port, n = None, None, 0
    while not stop.is_set():
        gate.checkpoint(stop)
        if server.port != port:
            if client is not None:
                client.close()
            port = server.port
            client = harness.RawKinesis("127.0.0.1", port, timeout=10)
        batch = []
        for _ in range(rng.randint(50, 200)):
            batch.append({"payload": f"p{pid}-{n}", "pk": f"k{rng.randrange(1 << 30)}"})
            n += 1
        body = {"StreamName": STREAM, "Records": [
            {"Data": harness.b64(r["payload"].encode()), "PartitionKey": r["pk"]} for r in batch]}
        sent_at = time.monotonic()
        try:
            status, resp = client.call("PutRecords", body)
        except TRANSPORT_ERRORS as e:  # killed mid-request or not up yet: unknown outcome
            ledger.record_lost_batch(batch, e)
            stop.wait(0.01)  # retry backoff against a dead server, not synchronization
            continue
        ledger.record_batch(batch, status, resp)
        stop.wait(max(0.0, sent_at + PACE_S - time.monotonic()))  # rate limit, not a sync
    if client is not None:
        client.close()


def read_all(server):
    """TRIM_HORIZON read of every shard: {shard id: [(seq, payload, pk), ...]}."""
    client = server.raw_client()
    out = {}
    try:
        for i in range(SHARDS):
            sid = f"shardId-{i:012d}"
            status, r = client.call("GetShardIterator", {
                "StreamName": STREAM, "ShardId": sid, "ShardIteratorType": "TRIM_HORIZON"})
            assert status == 200, r
            it, recs = r["ShardIterator"], []
            for _ in range(100000):
                status, r = client.call("GetRecords", {"ShardIterator": it, "Limit": 10000})
                assert status == 200, r
                recs.extend((x["SequenceNumber"], harness.unb64(x["Data"]).decode(),
                             x["PartitionKey"]) for x in r["Records"])
                it = r["NextShardIterator"]
                if not r["Records"] and r["MillisBehindLatest"] == 0:
                    break
            out[sid] = recs
    finally:
        client.close()
    return out


def shard_ranges(server):
    status, r = server.raw_client().call("DescribeStream", {"StreamName": STREAM})
    assert status == 200, r
    d = r["StreamDescription"]
    return [(int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]),
             s["ShardId"]) for s in d["Shards"]], d["StreamStatus"]


def owner(ranges, pk):
    h = int.from_bytes(hashlib.md5(pk.encode()).digest(), "big")
    return next(sid for lo, hi, sid in ranges if lo <= h <= hi)


class CrashDrillTest(unittest.TestCase):
    def setUp(self):
        self.server = harness.TidelineServer(name="crash")
        self.server.start()
        status, r = self.server.raw_client().call("CreateStream",
                                                  {"StreamName": STREAM, "ShardCount": SHARDS})
        self.assertEqual(status, 200, r)
        harness.wait_stream_active(self.server.boto3_client(), STREAM)
        self.ranges, _ = shard_ranges(self.server)
        self.seen = {}  # payload -> (shard, seq) of every record read after some restart

    def tearDown(self):
        self.server.cleanup()

    def verify(self, ledger, round_no):
        """Producers are paused: the ledger is stable while the shards are read."""
        ranges, status = shard_ranges(self.server)
        self.assertEqual(status, "ACTIVE")
        self.assertEqual(ranges, self.ranges, "shard layout changed across a crash")
        shards = read_all(self.server)
        where = f"after restart {round_no}"
        positions = {}
        for sid, recs in shards.items():
            seqs = [s for s, _, _ in recs]
            for a, b in zip(seqs, seqs[1:]):
                self.assertLess(int(a), int(b), f"{sid} order {where}")
                self.assertLess(a, b, f"{sid} string order {where}")
            offsets = [seq_offset(s) for s in seqs]
            self.assertEqual(offsets, list(range(1, len(offsets) + 1)),
                             f"{sid} offsets not dense from 1 {where}")
            for seq, payload, pk in recs:
                self.assertNotIn(payload, positions, f"duplicate {payload} {where}")
                positions[payload] = (sid, seq)
                self.assertEqual(owner(ranges, pk), sid, f"{payload} in the wrong shard")
        with ledger.lock:
            acked, unacked = dict(ledger.acked), dict(ledger.unacked)
        missing = [p for p in acked if p not in positions]
        self.assertEqual(missing[:10], [], f"{len(missing)} acknowledged records lost {where}")
        for p, (sid, seq, _) in acked.items():
            self.assertEqual(positions[p], (sid, seq), f"acknowledged {p} moved {where}")
        unknown = [p for p in positions if p not in acked and p not in unacked]
        self.assertEqual(unknown, [], f"records nobody sent {where}")
        vanished = [p for p in self.seen if positions.get(p) != self.seen[p]]
        self.assertEqual(vanished[:10], [], f"records seen before are gone or moved {where}")
        self.seen = positions
        in_flight_kept = sum(1 for p in positions if p not in acked)
        return len(acked), in_flight_kept, sum(len(r) for r in shards.values())

    def test_acknowledged_records_survive_repeated_sigkill(self):
        start = time.monotonic()
        rng = random.Random(SEED)
        ledger, gate, stop = Ledger(), Gate(PRODUCERS), threading.Event()
        threads = [threading.Thread(target=producer, args=(i, self.server, ledger, gate, stop),
                                    daemon=True) for i in range(PRODUCERS)]
        for t in threads:
            t.start()
        try:
            for round_no in range(1, KILLS + 1):
                self.assertLess(time.monotonic() - start, TIME_BUDGET_S,
                                f"time budget spent after {round_no - 1} kills")
                time.sleep(rng.uniform(0.2, 1.5))  # the random crash moment is the test input
                self.server.kill()
                self.server.start()
                gate.close_and_wait_idle()
                acked, kept, total = self.verify(ledger, round_no)
                gate.reopen()
                print(f"restart {round_no:2d}: {acked} acknowledged, {total} stored, "
                      f"{kept} unacknowledged in-flight kept", flush=True)
        finally:
            stop.set()
            gate.reopen()
            for t in threads:
                t.join(timeout=30)
        self.assertTrue(all(not t.is_alive() for t in threads), "a producer hung")
        with ledger.lock:
            print(f"crash drill: {KILLS} kills, {len(ledger.acked)} acknowledged, "
                  f"{len(ledger.unacked)} unacknowledged, errors {ledger.errors}, "
                  f"{time.monotonic() - start:.1f} s", flush=True)
            self.assertGreater(len(ledger.acked), KILLS * 50, "the producers barely wrote")
        # A final check after the last producer stopped, then a clean shutdown.
        self.verify(ledger, "final")
        self.assertEqual(self.server.stop(), 0, self.server.log_tail())


if __name__ == "__main__":
    args = sys.argv[1:]
    if "--kills" in args:
        i = args.index("--kills")
        KILLS = int(args[i + 1])
        del args[i:i + 2]
    harness.main(args)
