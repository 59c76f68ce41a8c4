#!/usr/bin/env python3
"""Resharding end to end through unmodified boto3 against the real `tideline serve`: SplitShard,
MergeShards and UpdateShardCount, lineage in DescribeStream and ListShards, records routed to
the children, a parent read to its end answering ChildShards, and the stream UPDATING for the
configured window (a second reshard meanwhile is ResourceInUseException). Then a restart: the
lineage and every record are still there.

Run: python3 test_resharding.py --tideline build/cli/tideline
"""

import hashlib
import unittest

import harness
from harness import ServerTestCase, read_shard, wait_stream_active

STREAM = "it-reshard"
HALF = 2**127
UPDATING_MS = 3000


def md5_hash_key(partition_key):
    return int.from_bytes(hashlib.md5(partition_key.encode("utf-8")).digest(), "big")


def owner(shards, hash_key):
    owners = [s["ShardId"] for s in shards
              if "EndingSequenceNumber" not in s["SequenceNumberRange"]
              and int(s["HashKeyRange"]["StartingHashKey"]) <= hash_key
              <= int(s["HashKeyRange"]["EndingHashKey"])]
    assert len(owners) == 1, f"hash key {hash_key} owned by {owners}"
    return owners[0]


class ReshardingTest(ServerTestCase):
    config_text = f"storage:\n  reshard_updating_delay_ms: {UPDATING_MS}\n"

    def wait_active(self):
        return wait_stream_active(self.client, STREAM, deadline_s=UPDATING_MS / 1000 + 30)

    def shards(self):
        return self.client.list_shards(StreamName=STREAM)["Shards"]

    def put(self, keys, tag):
        out = {}
        for i in range(0, len(keys), 500):
            batch = [{"Data": f"{tag}-{k}".encode(), "PartitionKey": k} for k in keys[i:i + 500]]
            r = self.client.put_records(StreamName=STREAM, Records=batch)
            self.assertEqual(r["FailedRecordCount"], 0)
            for req, res in zip(batch, r["Records"]):
                out[req["Data"]] = (res["ShardId"], res["SequenceNumber"], req["PartitionKey"])
        return out

    def read_all(self, shard_id):
        it = self.client.get_shard_iterator(StreamName=STREAM, ShardId=shard_id,
                                            ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        return read_shard(self.client, it)

    def test_split_merge_update_shard_count_with_lineage_routing_and_child_shards(self):
        c = self.client
        c.create_stream(StreamName=STREAM, ShardCount=2)
        self.wait_active()
        keys = [f"key-{i}" for i in range(600)]
        acked = self.put(keys, "before")

        # Split shard 0 in the middle of its range.
        c.split_shard(StreamName=STREAM, ShardToSplit="shardId-000000000000",
                      NewStartingHashKey=str(HALF // 2))
        status = c.describe_stream_summary(StreamName=STREAM)["StreamDescriptionSummary"]
        self.assertEqual(status["StreamStatus"], "UPDATING")
        with self.assertRaises(c.exceptions.ResourceInUseException):
            c.split_shard(StreamName=STREAM, ShardToSplit="shardId-000000000001",
                          NewStartingHashKey=str(HALF + HALF // 2))
        summary = self.wait_active()
        self.assertEqual(summary["OpenShardCount"], 3)
        shards = c.describe_stream(StreamName=STREAM)["StreamDescription"]["Shards"]
        by_id = {s["ShardId"]: s for s in shards}
        self.assertIn("EndingSequenceNumber", by_id["shardId-000000000000"]["SequenceNumberRange"])
        self.assertEqual(by_id["shardId-000000000002"]["ParentShardId"], "shardId-000000000000")
        self.assertEqual(by_id["shardId-000000000003"]["ParentShardId"], "shardId-000000000000")
        self.assertEqual(by_id["shardId-000000000003"]["HashKeyRange"]["StartingHashKey"],
                         str(HALF // 2))
        ending = int(by_id["shardId-000000000000"]["SequenceNumberRange"]["EndingSequenceNumber"])
        for s in ("shardId-000000000002", "shardId-000000000003"):
            self.assertGreater(int(by_id[s]["SequenceNumberRange"]["StartingSequenceNumber"]),
                               ending)

        acked.update(self.put(keys, "split"))
        # Merge the two children back together.
        c.merge_shards(StreamName=STREAM, ShardToMerge="shardId-000000000002",
                       AdjacentShardToMerge="shardId-000000000003")
        self.wait_active()
        merged = {s["ShardId"]: s for s in self.shards()}["shardId-000000000004"]
        self.assertEqual(merged["ParentShardId"], "shardId-000000000002")
        self.assertEqual(merged["AdjacentParentShardId"], "shardId-000000000003")
        acked.update(self.put(keys, "merged"))

        r = c.update_shard_count(StreamName=STREAM, TargetShardCount=4,
                                 ScalingType="UNIFORM_SCALING")
        self.assertEqual((r["CurrentShardCount"], r["TargetShardCount"]), (2, 4))
        self.assertTrue(r["StreamARN"].endswith(f":stream/{STREAM}"))
        self.wait_active()
        open_shards = c.list_shards(StreamName=STREAM,
                                    ShardFilter={"Type": "AT_LATEST"})["Shards"]
        self.assertEqual(len(open_shards), 4)
        acked.update(self.put(keys, "scaled"))

        # Every record went to the open shard owning its hash key at the time, and reads back.
        all_shards = self.shards()
        stored = {}
        for s in all_shards:
            records, responses = self.read_all(s["ShardId"])
            closed = "EndingSequenceNumber" in s["SequenceNumberRange"]
            if closed:
                last = responses[-1]
                self.assertNotIn("NextShardIterator", last)
                self.assertIn("ChildShards", last)
                children = {ch["ShardId"] for ch in last["ChildShards"]}
                expected = {x["ShardId"] for x in all_shards
                            if s["ShardId"] in (x.get("ParentShardId"),
                                                x.get("AdjacentParentShardId"))}
                self.assertEqual(children, expected, s["ShardId"])
                for ch in last["ChildShards"]:
                    self.assertIn(s["ShardId"], ch["ParentShards"])
                    self.assertIn("StartingHashKey", ch["HashKeyRange"])
            for rec in records:
                self.assertNotIn(rec["Data"], stored, "a record is in two shards")
                stored[rec["Data"]] = (s["ShardId"], rec["SequenceNumber"], rec["PartitionKey"])
        self.assertEqual(stored, acked)
        for data, (shard_id, _, pk) in acked.items():
            if data.startswith(b"scaled-"):
                self.assertEqual(shard_id, owner(all_shards, md5_hash_key(pk)))

        # A restart keeps the lineage and the records.
        self.server.stop()
        self.server.start()
        self.client = self.server.boto3_client()
        self.assertEqual(self.shards(), all_shards)
        self.assertEqual(len(self.read_all("shardId-000000000000")[0]),
                         sum(1 for v in acked.values() if v[0] == "shardId-000000000000"))

    def test_bad_reshards_are_kinesis_errors(self):
        c = self.client
        c.create_stream(StreamName="it-reshard-bad", ShardCount=2)
        wait_stream_active(c, "it-reshard-bad")
        with self.assertRaises(c.exceptions.InvalidArgumentException):
            c.merge_shards(StreamName="it-reshard-bad", ShardToMerge="shardId-000000000000",
                           AdjacentShardToMerge="shardId-000000000000")
        with self.assertRaises(c.exceptions.ResourceNotFoundException):
            c.split_shard(StreamName="it-reshard-bad", ShardToSplit="shardId-000000000042",
                          NewStartingHashKey="12345")
        with self.assertRaises(c.exceptions.InvalidArgumentException):
            c.split_shard(StreamName="it-reshard-bad", ShardToSplit="shardId-000000000000",
                          NewStartingHashKey="0")
        with self.assertRaises(c.exceptions.LimitExceededException):
            c.update_shard_count(StreamName="it-reshard-bad", TargetShardCount=5,
                                 ScalingType="UNIFORM_SCALING")
        self.assertEqual(
            c.describe_stream_summary(StreamName="it-reshard-bad")
            ["StreamDescriptionSummary"]["StreamStatus"], "ACTIVE")


if __name__ == "__main__":
    harness.main()
