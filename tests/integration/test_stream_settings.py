#!/usr/bin/env python3
"""The newer Kinesis operations through unmodified boto3 and the AWS CLI against the real
`tideline serve`: account settings (the minimum throughput billing commitment), a stream's
maximum record size with records of up to 10 MiB end to end, warm throughput of on-demand
streams, and StreamId; all of it kept across a restart.

Run: python3 test_stream_settings.py --tideline build/cli/tideline
"""

import os

import harness
from harness import ServerTestCase, run_aws, wait_stream_active, wait_stream_gone

MIB = 1 << 20


class StreamSettingsTest(ServerTestCase):
    def make(self, name, **kwargs):
        self.client.create_stream(StreamName=name, **kwargs)
        return wait_stream_active(self.client, name)

    def summary(self, name, **kwargs):
        return self.client.describe_stream_summary(StreamName=name,
                                                   **kwargs)["StreamDescriptionSummary"]

    def read_all(self, name):
        """Every record of the stream's one shard (GetRecords returns at most 10 MiB a call)."""
        c = self.client
        it = c.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        records = []
        while True:
            out = c.get_records(ShardIterator=it)
            if not out["Records"]:
                return records
            records += out["Records"]
            it = out["NextShardIterator"]

    def test_large_records_after_update_max_record_size(self):
        c = self.client
        self.make("ss-large", ShardCount=1)
        arn = self.summary("ss-large")["StreamARN"]
        self.assertEqual(self.summary("ss-large")["MaxRecordSizeInKiB"], 1024)
        big = os.urandom(8 * MIB)
        # At the default 1 MiB, the stream refuses larger records with AWS's validation error
        # (and a body over server.max_body_bytes as well, with a 413 ValidationException).
        with self.assertRaises(c.exceptions.ValidationException) as refused:
            c.put_record(StreamName="ss-large", Data=big[:2 * MIB], PartitionKey="k")
        self.assertIn("Member must have length less than or equal to 1048576",
                      str(refused.exception))
        with self.assertRaises(c.exceptions.ValidationException) as refused:
            c.put_record(StreamName="ss-large", Data=big, PartitionKey="k")
        self.assertIn("Request body exceeds the limit of 8388608 bytes", str(refused.exception))
        c.update_max_record_size(StreamARN=arn, MaxRecordSizeInKiB=10240)
        self.assertEqual(self.summary("ss-large")["MaxRecordSizeInKiB"], 10240)
        # ~11 MiB of JSON: above the 8 MiB default body limit, which follows the stream's limit.
        put = c.put_record(StreamName="ss-large", Data=big, PartitionKey="k")
        records = self.read_all("ss-large")
        self.assertEqual(len(records), 1)
        self.assertEqual(records[0]["SequenceNumber"], put["SequenceNumber"])
        self.assertEqual(records[0]["Data"], big)
        # PutRecords carries up to 10 MiB once large records are on.
        batch = [{"Data": os.urandom(3 * MIB), "PartitionKey": f"p{i}"} for i in range(3)]
        out = c.put_records(StreamName="ss-large", Records=batch)
        self.assertEqual(out["FailedRecordCount"], 0)
        # Above the stream's limit: refused, and nothing is written.
        c.update_max_record_size(StreamARN=arn, MaxRecordSizeInKiB=4096)
        with self.assertRaises(c.exceptions.ValidationException) as refused:
            c.put_record(StreamName="ss-large", Data=big, PartitionKey="k")
        self.assertIn("Member must have length less than or equal to 4194304",
                      str(refused.exception))
        self.assertEqual(len(self.read_all("ss-large")), 4)
        # Out of 1024..10240 is the model's ValidationException.
        with self.assertRaises(c.exceptions.ValidationException):
            c.update_max_record_size(StreamARN=arn, MaxRecordSizeInKiB=20000)

    def test_account_settings_and_warm_throughput(self):
        c = self.client
        self.make("ss-warm", StreamModeDetails={"StreamMode": "ON_DEMAND"})
        self.make("ss-prov", ShardCount=1)
        self.assertNotIn("WarmThroughput", self.summary("ss-warm"))
        with self.assertRaises(c.exceptions.InvalidArgumentException):
            c.update_stream_warm_throughput(StreamName="ss-warm", WarmThroughputMiBps=100)
        out = c.update_account_settings(MinimumThroughputBillingCommitment={"Status": "ENABLED"})
        commitment = out["MinimumThroughputBillingCommitment"]
        self.assertEqual(commitment["Status"], "ENABLED")
        self.assertEqual((commitment["EarliestAllowedEndAt"] - commitment["StartedAt"])
                         .total_seconds(), 24 * 3600)
        self.assertEqual(c.describe_account_settings()["MinimumThroughputBillingCommitment"],
                         commitment)
        out = c.update_stream_warm_throughput(StreamName="ss-warm", WarmThroughputMiBps=100)
        self.assertEqual(out["StreamName"], "ss-warm")
        self.assertEqual(out["WarmThroughput"], {"TargetMiBps": 100, "CurrentMiBps": 100})
        self.assertEqual(self.summary("ss-warm")["WarmThroughput"]["TargetMiBps"], 100)
        with self.assertRaises(c.exceptions.InvalidArgumentException):
            c.update_stream_warm_throughput(StreamName="ss-prov", WarmThroughputMiBps=100)
        # Disabling within the first 24 hours only schedules it.
        out = c.update_account_settings(MinimumThroughputBillingCommitment={"Status": "DISABLED"})
        self.assertEqual(out["MinimumThroughputBillingCommitment"]["Status"],
                         "ENABLED_UNTIL_EARLIEST_ALLOWED_END")
        # The AWS CLI reads the same.
        code, cli, err = run_aws(self.server, "kinesis", "describe-account-settings")
        self.assertEqual(code, 0, err)
        self.assertEqual(cli["MinimumThroughputBillingCommitment"]["Status"],
                         "ENABLED_UNTIL_EARLIEST_ALLOWED_END")

    def test_stream_id_is_reported_and_checked(self):
        # botocore sends any call that carries a StreamId to AWS's per-stream host whatever the
        # endpoint_url (its endpoint rules test StreamId first), so these go as raw JSON.
        c = self.client
        raw = self.server.raw_client()
        self.addCleanup(raw.close)
        self.make("ss-id", ShardCount=1)
        stream_id = self.summary("ss-id")["StreamId"]
        self.assertRegex(stream_id, r"^[a-z0-9]{20}-[a-z0-9]{3}$")
        status, body = raw.call("DescribeStreamSummary",
                                {"StreamName": "ss-id", "StreamId": stream_id})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["StreamDescriptionSummary"]["StreamId"], stream_id)
        status, body = raw.call("PutRecord", {"StreamName": "ss-id", "StreamId": stream_id,
                                              "Data": "eA==", "PartitionKey": "k"})
        self.assertEqual(status, 200, body)
        other = "0" * 20 + "-abc"
        for operation, request in (
                ("DescribeStreamSummary", {"StreamName": "ss-id"}),
                ("PutRecord", {"StreamName": "ss-id", "Data": "eQ==", "PartitionKey": "k"}),
                ("PutRecords", {"StreamName": "ss-id",
                                "Records": [{"Data": "eQ==", "PartitionKey": "k"}]})):
            with self.subTest(operation=operation):
                status, body = raw.call(operation, dict(request, StreamId=other))
                self.assertEqual(status, 400, body)
                self.assertEqual(body["__type"], "ResourceNotFoundException", body)
        self.assertEqual([r["Data"] for r in self.read_all("ss-id")], [b"x"])
        # Made again under the same name, it is another stream with another id.
        c.delete_stream(StreamName="ss-id")
        wait_stream_gone(c, "ss-id")
        self.make("ss-id", ShardCount=1)
        self.assertNotEqual(self.summary("ss-id")["StreamId"], stream_id)
        status, body = raw.call("DescribeStreamSummary",
                                {"StreamName": "ss-id", "StreamId": stream_id})
        self.assertEqual(body.get("__type"), "ResourceNotFoundException", body)

    def test_settings_survive_a_restart(self):
        c = self.client
        self.make("ss-restart", ShardCount=1)
        arn = self.summary("ss-restart")["StreamARN"]
        c.update_max_record_size(StreamARN=arn, MaxRecordSizeInKiB=10240)
        c.update_account_settings(MinimumThroughputBillingCommitment={"Status": "ENABLED"})
        before = self.summary("ss-restart")
        account = c.describe_account_settings()
        self.server.stop()
        self.server.start()
        # The restarted server may listen on another port: every later test uses the new client.
        c = type(self).client = self.server.boto3_client()
        after = self.summary("ss-restart")
        self.assertEqual(after["StreamId"], before["StreamId"])
        self.assertEqual(after["MaxRecordSizeInKiB"], 10240)
        self.assertEqual(c.describe_account_settings()["MinimumThroughputBillingCommitment"]
                         ["StartedAt"], account["MinimumThroughputBillingCommitment"]["StartedAt"])
        # The body limit follows the stored limits from the start.
        big = os.urandom(9 * MIB)
        c.put_record(StreamName="ss-restart", Data=big, PartitionKey="k")
        self.assertEqual(self.read_all("ss-restart")[-1]["Data"], big)


if __name__ == "__main__":
    harness.main()
