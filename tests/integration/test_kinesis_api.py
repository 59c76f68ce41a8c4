#!/usr/bin/env python3
"""Kinesis Data Streams API end to end against the real `tideline serve` binary, through
unmodified boto3 and the AWS CLI.

Run: python3 test_kinesis_api.py --tideline build/cli/tideline [TestClass.test_name ...]
"""

import hashlib
import math
import random
import time
import unittest

import harness
from harness import ServerTestCase, read_shard, seq_offset, wait_stream_active

SEED = 20240601
STREAM = "it-main"
SHARDS = 4
PHASE1 = 6000
PHASE2 = 4000
BATCH = 500
KEY_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/éß日本Ω"


def md5_hash_key(partition_key):
    return int.from_bytes(hashlib.md5(partition_key.encode("utf-8")).digest(), "big")


def shard_for_hash(shards, hash_key):
    owners = [s["ShardId"] for s in shards
              if int(s["HashKeyRange"]["StartingHashKey"]) <= hash_key
              <= int(s["HashKeyRange"]["EndingHashKey"])]
    assert len(owners) == 1, f"hash key {hash_key} owned by {owners}"
    return owners[0]


def random_records(rng, n):
    out = []
    for _ in range(n):
        key_len = rng.randint(1, 40)
        pk = "".join(rng.choice(KEY_ALPHABET) for _ in range(key_len))
        out.append({"Data": rng.randbytes(rng.randint(1, 2000)), "PartitionKey": pk})
    return out


class KinesisApiTest(ServerTestCase):
    """A 4-shard stream with 10,000 random records put in two phases, read back every way."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        c = cls.client
        c.create_stream(StreamName=STREAM, ShardCount=SHARDS)
        wait_stream_active(c, STREAM)
        cls.shards = c.describe_stream(StreamName=STREAM)["StreamDescription"]["Shards"]
        rng = random.Random(SEED)
        cls.put_results = []  # (request record, response entry)
        cls.responses = []
        cls._put(rng, PHASE1)
        last_ack = time.time()
        # A whole-second timestamp strictly after every phase-1 arrival and before every phase-2
        # one (boto3 sends Kinesis timestamps with whole-second precision).
        cls.mid_timestamp = math.ceil(last_ack + 0.01)
        harness.wait_clock_past(cls.mid_timestamp + 0.005)
        cls.phase1_count = len(cls.put_results)
        cls._put(rng, PHASE2)
        cls.expected = {s["ShardId"]: [] for s in cls.shards}
        for req, res in cls.put_results:
            cls.expected[res["ShardId"]].append((res["SequenceNumber"], req))
        for v in cls.expected.values():
            v.sort(key=lambda e: int(e[0]))

    @classmethod
    def _put(cls, rng, n):
        for start in range(0, n, BATCH):
            batch = random_records(rng, min(BATCH, n - start))
            r = cls.client.put_records(StreamName=STREAM, Records=batch)
            cls.responses.append(r)
            cls.put_results.extend(zip(batch, r["Records"]))

    def shard_iterator(self, shard_id, kind, **kw):
        return self.client.get_shard_iterator(StreamName=STREAM, ShardId=shard_id,
                                              ShardIteratorType=kind, **kw)["ShardIterator"]

    def assert_records_equal(self, got, expected_entries, what):
        self.assertEqual(len(got), len(expected_entries), f"{what}: record count")
        for g, (seq, req) in zip(got, expected_entries):
            self.assertEqual(g["SequenceNumber"], seq, what)
            self.assertEqual(g["PartitionKey"], req["PartitionKey"], what)
            self.assertEqual(g["Data"], req["Data"], f"{what}: bytes of {seq}")

    def test_put_records_acknowledges_all_and_routes_by_md5_of_partition_key(self):
        self.assertEqual(len(self.responses), (PHASE1 + PHASE2) // BATCH)
        for r in self.responses:
            self.assertEqual(r["FailedRecordCount"], 0)
        self.assertEqual(len(self.put_results), PHASE1 + PHASE2)
        for req, res in self.put_results:
            self.assertNotIn("ErrorCode", res)
            want = shard_for_hash(self.shards, md5_hash_key(req["PartitionKey"]))
            self.assertEqual(res["ShardId"], want, f"routing of key {req['PartitionKey']!r}")
        used = {res["ShardId"] for _, res in self.put_results}
        self.assertEqual(used, {s["ShardId"] for s in self.shards}, "random keys hit all shards")

    def test_describe_stream_shards_cover_the_hash_space_evenly(self):
        self.assertEqual(len(self.shards), SHARDS)
        ids = [s["ShardId"] for s in self.shards]
        self.assertEqual(ids, [f"shardId-{i:012d}" for i in range(SHARDS)])
        self.assertEqual(int(self.shards[0]["HashKeyRange"]["StartingHashKey"]), 0)
        self.assertEqual(int(self.shards[-1]["HashKeyRange"]["EndingHashKey"]), 2**128 - 1)
        for a, b in zip(self.shards, self.shards[1:]):
            self.assertEqual(int(a["HashKeyRange"]["EndingHashKey"]) + 1,
                             int(b["HashKeyRange"]["StartingHashKey"]))
        for s in self.shards:
            self.assertIn("StartingSequenceNumber", s["SequenceNumberRange"])

    def test_trim_horizon_reads_every_record_per_shard_in_order_with_equal_bytes(self):
        total = 0
        for s in self.shards:
            sid = s["ShardId"]
            got, _ = read_shard(self.client, self.shard_iterator(sid, "TRIM_HORIZON"),
                                expect_at_least=len(self.expected[sid]))
            self.assert_seqs_increase(got)
            self.assertEqual(seq_offset(got[0]["SequenceNumber"]), 1, "offsets start at 1")
            self.assert_records_equal(got, self.expected[sid], f"TRIM_HORIZON {sid}")
            for g in got:
                self.assertIn("ApproximateArrivalTimestamp", g)
            total += len(got)
        self.assertEqual(total, PHASE1 + PHASE2)

    def test_at_and_after_sequence_number_from_a_middle_record_return_the_exact_remainder(self):
        for s in self.shards:
            sid = s["ShardId"]
            exp = self.expected[sid]
            mid = len(exp) // 2
            seq = exp[mid][0]
            at, _ = read_shard(self.client, self.shard_iterator(
                sid, "AT_SEQUENCE_NUMBER", StartingSequenceNumber=seq))
            self.assert_records_equal(at, exp[mid:], f"AT_SEQUENCE_NUMBER {sid}")
            after, _ = read_shard(self.client, self.shard_iterator(
                sid, "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=seq))
            self.assert_records_equal(after, exp[mid + 1:], f"AFTER_SEQUENCE_NUMBER {sid}")
            last, _ = read_shard(self.client, self.shard_iterator(
                sid, "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=exp[-1][0]))
            self.assertEqual(last, [], "AFTER the last record is empty")

    def test_at_timestamp_between_two_put_phases_returns_exactly_the_second_phase(self):
        phase2 = {(res["ShardId"], res["SequenceNumber"])
                  for _, res in self.put_results[self.phase1_count:]}
        self.assertEqual(len(phase2), PHASE2)
        for ts, how in ((self.mid_timestamp, "boto3 whole seconds"),
                        (self.mid_timestamp - 0.001, "raw JSON milliseconds")):
            got_total = set()
            for s in self.shards:
                sid = s["ShardId"]
                if how.startswith("boto3"):
                    it = self.shard_iterator(sid, "AT_TIMESTAMP", Timestamp=ts)
                else:
                    status, body = self.server.raw_client().call("GetShardIterator", {
                        "StreamName": STREAM, "ShardId": sid,
                        "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": ts})
                    self.assertEqual(status, 200, body)
                    it = body["ShardIterator"]
                got, _ = read_shard(self.client, it)
                exp = [e for e in self.expected[sid] if (sid, e[0]) in phase2]
                self.assert_records_equal(got, exp, f"AT_TIMESTAMP ({how}) {sid}")
                got_total.update((sid, g["SequenceNumber"]) for g in got)
            self.assertEqual(got_total, phase2, how)

    def test_get_records_reports_millis_behind_latest_and_chains_next_iterators(self):
        sid = self.shards[0]["ShardId"]
        exp = self.expected[sid]
        it = self.shard_iterator(sid, "TRIM_HORIZON")
        got, seen_its = [], set()
        for _ in range(len(exp) // 100 + 5):
            r = self.client.get_records(ShardIterator=it, Limit=100)
            self.assertLessEqual(len(r["Records"]), 100)
            self.assertIsInstance(r["MillisBehindLatest"], int)
            self.assertGreaterEqual(r["MillisBehindLatest"], 0)
            self.assertIn("NextShardIterator", r, "an open shard always has a next iterator")
            if r["Records"]:  # a new position: a new iterator
                self.assertNotIn(r["NextShardIterator"], seen_its)
                seen_its.add(r["NextShardIterator"])
            it = r["NextShardIterator"]
            got.extend(r["Records"])
            if not r["Records"]:
                break
        self.assertEqual(r["Records"], [])
        self.assertEqual(r["MillisBehindLatest"], 0, "caught up")
        self.assert_records_equal(got, exp, "Limit=100 chain")
        # An iterator stays usable: reading the first one again gives the same first page.
        again = self.client.get_records(ShardIterator=self.shard_iterator(sid, "TRIM_HORIZON"),
                                        Limit=1)
        self.assertEqual(again["Records"][0]["SequenceNumber"], exp[0][0])

    def test_latest_is_empty_then_sees_only_records_put_afterwards(self):
        name = "it-latest"
        self.client.create_stream(StreamName=name, ShardCount=1)
        wait_stream_active(self.client, name)
        self.client.put_record(StreamName=name, Data=b"before", PartitionKey="k")
        sid = "shardId-000000000000"
        it = self.client.get_shard_iterator(StreamName=name, ShardId=sid,
                                            ShardIteratorType="LATEST")["ShardIterator"]
        r = self.client.get_records(ShardIterator=it)
        self.assertEqual(r["Records"], [])
        self.assertEqual(r["MillisBehindLatest"], 0)
        new = [bytes([i]) * (i + 1) for i in range(5)]
        seqs = [self.client.put_record(StreamName=name, Data=d, PartitionKey=f"k{i}")
                ["SequenceNumber"] for i, d in enumerate(new)]
        got, _ = read_shard(self.client, r["NextShardIterator"], expect_at_least=5)
        self.assertEqual([g["Data"] for g in got], new)
        self.assertEqual([g["SequenceNumber"] for g in got], seqs)
        self.client.delete_stream(StreamName=name)

    def test_put_record_with_explicit_hash_key_goes_to_the_owning_shard(self):
        self.client.create_stream(StreamName="it-ehk", ShardCount=SHARDS)
        wait_stream_active(self.client, "it-ehk")
        for s in self.shards:
            start = int(s["HashKeyRange"]["StartingHashKey"])
            end = int(s["HashKeyRange"]["EndingHashKey"])
            for hk in (start, end, (start + end) // 2):
                r = self.client.put_record(StreamName="it-ehk", Data=b"x", PartitionKey="same",
                                           ExplicitHashKey=str(hk))
                self.assertEqual(r["ShardId"], s["ShardId"], f"explicit hash key {hk}")

    def test_describe_stream_summary_list_shards_and_list_streams(self):
        s = self.client.describe_stream_summary(StreamName=STREAM)["StreamDescriptionSummary"]
        self.assertEqual(s["StreamName"], STREAM)
        self.assertEqual(s["StreamStatus"], "ACTIVE")
        self.assertEqual(s["OpenShardCount"], SHARDS)
        self.assertEqual(s["RetentionPeriodHours"], 24)
        self.assertTrue(s["StreamARN"].startswith("arn:aws:kinesis:us-east-1:"), s["StreamARN"])
        self.assertTrue(s["StreamARN"].endswith(f":stream/{STREAM}"), s["StreamARN"])
        shards = self.client.list_shards(StreamName=STREAM)["Shards"]
        self.assertEqual([x["ShardId"] for x in shards], [x["ShardId"] for x in self.shards])
        self.assertEqual([x["HashKeyRange"] for x in shards],
                         [x["HashKeyRange"] for x in self.shards])
        # Two more streams, so that paging has pages to walk whatever else exists.
        extra = ["it-page-a", "it-page-b"]
        for name in extra:
            self.client.create_stream(StreamName=name, ShardCount=1)
        try:
            for name in extra:
                wait_stream_active(self.client, name)
            names = self.client.list_streams()["StreamNames"]
            self.assertIn(STREAM, names)
            for name in extra:
                self.assertIn(name, names)
            self.assertEqual(names, sorted(names), "ListStreams is in name order")
            # Pagination through Limit / ExclusiveStartStreamName, one stream a page.
            paged = []
            page = self.client.list_streams(Limit=1)
            while True:
                self.assertEqual(len(page["StreamNames"]), 1)
                paged += page["StreamNames"]
                if not page["HasMoreStreams"]:
                    break
                page = self.client.list_streams(Limit=1, ExclusiveStartStreamName=paged[-1])
            self.assertEqual(paged, names)
        finally:
            for name in extra:
                self.client.delete_stream(StreamName=name)

    def test_retention_period_increase_then_decrease(self):
        name = "it-retention"
        self.client.create_stream(StreamName=name, ShardCount=1)
        wait_stream_active(self.client, name)
        self.client.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=48)
        self.assertEqual(wait_stream_active(self.client, name)["RetentionPeriodHours"], 48)
        self.client.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=24)
        self.assertEqual(wait_stream_active(self.client, name)["RetentionPeriodHours"], 24)
        for op, hours in ((self.client.decrease_stream_retention_period, 23),
                          (self.client.increase_stream_retention_period, 8761)):
            with self.assertRaises(harness.botocore.exceptions.ClientError) as cm:
                op(StreamName=name, RetentionPeriodHours=hours)
            self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidArgumentException",
                             f"retention {hours}")
        self.client.delete_stream(StreamName=name)

    def test_delete_stream_removes_it(self):
        name = "it-delete"
        self.client.create_stream(StreamName=name, ShardCount=2)
        wait_stream_active(self.client, name)
        self.client.put_record(StreamName=name, Data=b"gone", PartitionKey="k")
        self.client.delete_stream(StreamName=name)
        deadline = time.monotonic() + harness.scaled(30)
        while True:  # DeleteStream is asynchronous (DELETING) in Kinesis
            try:
                self.client.describe_stream_summary(StreamName=name)
            except harness.botocore.exceptions.ClientError as e:
                self.assertEqual(e.response["Error"]["Code"], "ResourceNotFoundException")
                break
            self.assertLess(time.monotonic(), deadline, "stream not deleted in 30 s")
            time.sleep(0.02)
        self.assertNotIn(name, self.client.list_streams()["StreamNames"])
        # The name can be used again, starting empty.
        self.client.create_stream(StreamName=name, ShardCount=1)
        wait_stream_active(self.client, name)
        it = self.client.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                            ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        got, _ = read_shard(self.client, it)
        self.assertEqual(got, [])
        self.client.delete_stream(StreamName=name)


class AwsCliTest(ServerTestCase):
    """The unmodified AWS CLI against the server."""

    def aws(self, *args):
        code, out, err = harness.run_aws(self.server, "kinesis", *args)
        self.assertEqual(code, 0, f"aws kinesis {' '.join(args)} failed: {err}")
        return out

    def test_aws_cli_create_describe_put_get_list(self):
        self.aws("create-stream", "--stream-name", "cli-stream", "--shard-count", "2")
        deadline = time.monotonic() + harness.scaled(30)
        while True:
            d = self.aws("describe-stream", "--stream-name", "cli-stream")["StreamDescription"]
            if d["StreamStatus"] == "ACTIVE":
                break
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)
        self.assertEqual(len(d["Shards"]), 2)
        self.assertIn("cli-stream", self.aws("list-streams")["StreamNames"])
        sent = {}
        for i in range(6):
            text = f"hello from the cli {i} ✓"
            r = self.aws("put-record", "--stream-name", "cli-stream", "--partition-key",
                         f"key-{i}", "--data", text)
            sent[(r["ShardId"], r["SequenceNumber"])] = text.encode()
        got = {}
        for shard in d["Shards"]:
            it = self.aws("get-shard-iterator", "--stream-name", "cli-stream", "--shard-id",
                          shard["ShardId"], "--shard-iterator-type",
                          "TRIM_HORIZON")["ShardIterator"]
            r = self.aws("get-records", "--shard-iterator", it)
            self.assertIn("MillisBehindLatest", r)
            for rec in r["Records"]:
                # The CLI prints blobs base64-encoded.
                got[(shard["ShardId"], rec["SequenceNumber"])] = harness.unb64(rec["Data"])
        self.assertEqual(got, sent)
        # Cross-check with boto3: same bytes.
        for (sid, seq), data in sent.items():
            it = self.client.get_shard_iterator(
                StreamName="cli-stream", ShardId=sid, ShardIteratorType="AT_SEQUENCE_NUMBER",
                StartingSequenceNumber=seq)["ShardIterator"]
            self.assertEqual(self.client.get_records(ShardIterator=it, Limit=1)["Records"][0]
                             ["Data"], data)

    def test_aws_cli_reports_errors_with_a_non_zero_exit(self):
        code, _, err = harness.run_aws(self.server, "kinesis", "describe-stream",
                                       "--stream-name", "no-such-stream")
        self.assertNotEqual(code, 0)
        self.assertIn("ResourceNotFoundException", err)


class LifecycleTest(unittest.TestCase):
    def test_sigterm_exits_zero_and_data_survives_a_restart(self):
        server = harness.TidelineServer(name="lifecycle")
        try:
            server.start()
            c = server.boto3_client()
            c.create_stream(StreamName="durable", ShardCount=1)
            wait_stream_active(c, "durable")
            seq = c.put_record(StreamName="durable", Data=b"\x00\xff kept",
                               PartitionKey="k")["SequenceNumber"]
            self.assertEqual(server.stop(), 0, server.log_tail())
            server.start()
            c = server.boto3_client()
            it = c.get_shard_iterator(StreamName="durable", ShardId="shardId-000000000000",
                                      ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            got, _ = read_shard(c, it)
            self.assertEqual([(g["SequenceNumber"], g["Data"]) for g in got],
                             [(seq, b"\x00\xff kept")])
            self.assertEqual(server.stop(), 0, server.log_tail())
        finally:
            server.cleanup()


if __name__ == "__main__":
    harness.main()
