#!/usr/bin/env python3
"""server.throughput_limits through boto3: with limits on, a producer over 1,000 records/s on one
shard gets ProvisionedThroughputExceededException in PutRecords' per-record results, and
resending just the failed records gets every record in exactly once; a sixth GetRecords within a
second is refused. With limits off (the default) the same producer is never throttled.
Run: python3 test_throughput_limits.py --tideline build/cli/tideline"""

import collections
import time
import unittest

import boto3
import botocore.config
import botocore.exceptions

import harness

ACCOUNT = "123456789012"
RECORDS = 4000
BATCH = 500


def client_with(server, retries):
    cfg = botocore.config.Config(retries=retries, connect_timeout=5, read_timeout=60)
    return boto3.client("kinesis", endpoint_url=server.endpoint, region_name=harness.REGION,
                        aws_access_key_id=harness.ACCESS_KEY,
                        aws_secret_access_key=harness.SECRET_KEY, config=cfg)


def retrying_client(server):
    """A client whose own retries (botocore's standard mode) absorb throttled reads."""
    return client_with(server, {"max_attempts": 20, "mode": "standard"})


def single_attempt_client(server):
    """One attempt per call, so that a refusal is seen. In botocore's default (legacy) retry
    mode {"max_attempts": 1} still allows one retry, which can hide it; total_max_attempts
    counts the first attempt."""
    return client_with(server, {"total_max_attempts": 1})


def produce(client, stream, deadline_s):
    """Sends RECORDS records in batches as fast as the server answers and resends the entries
    that failed, as a producer library does. Returns (data sent, per-record failures seen)."""
    pending = [{"Data": f"record-{i:05d}".encode(), "PartitionKey": f"k{i}"} for i in range(RECORDS)]
    sent = [e["Data"] for e in pending]
    failures = []
    deadline = time.monotonic() + harness.scaled(deadline_s)
    backoff = 0.01
    while pending:
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(pending)} records still not accepted")
        retry = []
        for start in range(0, len(pending), BATCH):
            batch = pending[start:start + BATCH]
            r = client.put_records(StreamName=stream, Records=batch)
            failed = [(entry, result) for entry, result in zip(batch, r["Records"])
                      if "ErrorCode" in result]
            if len(failed) != r["FailedRecordCount"]:
                raise AssertionError(f"FailedRecordCount {r['FailedRecordCount']} but "
                                     f"{len(failed)} entries failed")
            failures.extend(result for _, result in failed)
            retry.extend(entry for entry, _ in failed)
        pending = retry
        if pending:
            # Backoff between resends is the producer's part of the contract, not a wait for
            # the server: the limit refills with time.
            time.sleep(backoff)
            backoff = min(backoff * 2, 0.5)
    return sent, failures


def read_all(client, stream):
    shard = client.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
    it = client.get_shard_iterator(StreamName=stream, ShardId=shard,
                                   ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records, _ = harness.read_shard(client, it, expect_at_least=RECORDS)
    return [r["Data"] for r in records]


class LimitsOnTest(harness.ServerTestCase):
    config_text = "server:\n  throughput_limits:\n    enabled: true\n"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.once = single_attempt_client(cls.server)

    def make(self, name):
        self.client.create_stream(StreamName=name, ShardCount=1)
        harness.wait_stream_active(self.client, name)

    def test_producer_over_the_record_rate_is_throttled_per_record_and_retries_deliver_once(self):
        self.make("fast")
        sent, failures = produce(self.client, "fast", deadline_s=60)
        self.assertGreater(len(failures), 0, "4,000 records in a burst must pass 1,000/s")
        for f in failures:
            self.assertEqual(f["ErrorCode"], "ProvisionedThroughputExceededException")
            self.assertEqual(f["ErrorMessage"], "Rate exceeded for shard shardId-000000000000 "
                             f"in stream fast under account {ACCOUNT}.")
        got = read_all(retrying_client(self.server), "fast")
        counts = collections.Counter(got)
        self.assertEqual(set(counts), set(sent))
        self.assertEqual([d for d, n in counts.items() if n != 1], [], "duplicates")
        self.assertEqual(len(got), RECORDS)

    def test_put_record_over_the_byte_rate_is_refused(self):
        self.make("bytes")
        big = b"x" * 1_000_000
        r = self.client.put_records(StreamName="bytes", Records=[
            {"Data": big, "PartitionKey": "a"}, {"Data": big, "PartitionKey": "b"}])
        self.assertEqual(r["FailedRecordCount"], 1)
        self.assertIn("SequenceNumber", r["Records"][0])
        self.assertEqual(r["Records"][1]["ErrorCode"], "ProvisionedThroughputExceededException")
        with self.assertRaises(botocore.exceptions.ClientError) as caught:
            self.once.put_record(StreamName="bytes", Data=b"y" * 600_000, PartitionKey="c")
        err = caught.exception.response["Error"]
        self.assertEqual(err["Code"], "ProvisionedThroughputExceededException")
        self.assertEqual(err["Message"], "Rate exceeded for shard shardId-000000000000 in stream "
                         f"bytes under account {ACCOUNT}.")
        self.assertEqual(caught.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)

    def test_sixth_get_records_in_a_second_is_refused(self):
        self.make("reads")
        self.client.put_record(StreamName="reads", Data=b"r", PartitionKey="k")
        it = self.client.get_shard_iterator(StreamName="reads", ShardId="shardId-000000000000",
                                            ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        # One attempt a call: botocore's retries would hide the refusal.
        start = time.monotonic()
        outcomes, sixth_done = [], None
        for _ in range(20):  # bounded: a refill takes 200 ms, so a slow loop may need more
            try:
                self.once.get_records(ShardIterator=it)
                outcomes.append("ok")
            except botocore.exceptions.ClientError as e:
                outcomes.append(e.response["Error"])
            if len(outcomes) == 6:
                sixth_done = time.monotonic() - start
            if outcomes[-1] != "ok":
                break
        self.assertEqual(outcomes[:5], ["ok"] * 5)
        self.assertEqual(outcomes[-1], {
            "Code": "ProvisionedThroughputExceededException",
            "Message": f"Rate exceeded for Shard - {ACCOUNT}/reads/shardId-000000000000"})
        if sixth_done is not None and sixth_done < 0.2:  # no refill yet: the sixth was refused
            self.assertEqual(len(outcomes), 6)


class LimitsOffTest(harness.ServerTestCase):
    """The default: no throughput_limits section."""

    def test_the_same_producer_is_never_throttled(self):
        self.client.create_stream(StreamName="free", ShardCount=1)
        harness.wait_stream_active(self.client, "free")
        sent, failures = produce(self.client, "free", deadline_s=60)
        self.assertEqual(failures, [])
        it = self.client.get_shard_iterator(StreamName="free", ShardId="shardId-000000000000",
                                            ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        once = single_attempt_client(self.server)
        for _ in range(20):
            once.get_records(ShardIterator=it, Limit=1)  # raises if refused
        self.assertEqual(sorted(read_all(self.client, "free")), sorted(sent))


if __name__ == "__main__":
    harness.main()
