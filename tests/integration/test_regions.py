#!/usr/bin/env python3
"""Regions: boto3 clients and the AWS CLI in two regions against one server.

Each region has its own streams: the same name in us-east-1 (server.region) and us-west-2 is two
streams, records stay in theirs, ListStreams lists one region's, ARNs carry the region, and a
StreamARN of the other region is refused. Checked with auth none (the region is read from the
signature's credential scope, which boto3 and the CLI always send) and with SigV4 on (where a
policy on one region's ARNs does not reach the other's). A pipeline reads another region's
stream by naming it "us-west-2:<name>".

Run: python3 test_regions.py --tideline build/cli/tideline [TestClass.test_name]
"""
import glob
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import ServerTestCase, read_shard, wait_stream_active  # noqa: E402

import boto3  # noqa: E402
import botocore.config  # noqa: E402
import botocore.exceptions  # noqa: E402

EAST = harness.REGION  # the server's default region
WEST = "us-west-2"
ACCOUNT = "123456789012"
ADMIN = ("AKIDADMIN", "admin-secret-9876543210")
WEST_ONLY = ("AKIDWEST", "west-secret-0123456789")


def arn(region, name):
    return f"arn:aws:kinesis:{region}:{ACCOUNT}:stream/{name}"


class RegionChecks:
    """The checks, run by a class that sets cls.east and cls.west (boto3 clients)."""

    def assert_error(self, call, code, message=None):
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            call()
        err = ctx.exception.response["Error"]
        self.assertEqual(err["Code"], code, err)
        if message is not None:
            self.assertEqual(err["Message"], message)

    def create(self, client, name, shards):
        client.create_stream(StreamName=name, ShardCount=shards)
        wait_stream_active(client, name)

    def read_all(self, client, name):
        shard = client.list_shards(StreamName=name)["Shards"][0]["ShardId"]
        it = client.get_shard_iterator(StreamName=name, ShardId=shard,
                                       ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        return [r["Data"] for r in read_shard(client, it)[0]]

    def test_same_name_in_two_regions_is_two_streams(self):
        self.create(self.east, "logs", 2)
        self.create(self.west, "logs", 1)
        east = self.east.describe_stream(StreamName="logs")["StreamDescription"]
        west = self.west.describe_stream(StreamName="logs")["StreamDescription"]
        self.assertEqual(len(east["Shards"]), 2)
        self.assertEqual(len(west["Shards"]), 1)
        self.assertEqual(east["StreamARN"], arn(EAST, "logs"))
        self.assertEqual(west["StreamARN"], arn(WEST, "logs"))
        self.assertEqual(west["StreamName"], "logs")

        self.west.put_record(StreamName="logs", Data=b"from-west", PartitionKey="k")
        self.east.put_records(StreamName="logs",
                              Records=[{"Data": b"from-east", "PartitionKey": "k"}])
        self.assertEqual(self.read_all(self.west, "logs"), [b"from-west"])
        east_data = []
        for shard in self.east.list_shards(StreamName="logs")["Shards"]:
            it = self.east.get_shard_iterator(StreamName="logs", ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            east_data += [r["Data"] for r in read_shard(self.east, it)[0]]
        self.assertEqual(east_data, [b"from-east"])

    def test_list_streams_lists_the_clients_region_only(self):
        self.create(self.west, "west-only", 1)
        self.create(self.east, "east-only", 1)
        west = self.west.list_streams()
        east = self.east.list_streams()
        self.assertIn("west-only", west["StreamNames"])
        self.assertNotIn("east-only", west["StreamNames"])
        self.assertIn("east-only", east["StreamNames"])
        self.assertNotIn("west-only", east["StreamNames"])
        self.assertFalse([n for n in west["StreamNames"] + east["StreamNames"] if ":" in n])
        for summary in west["StreamSummaries"]:
            self.assertEqual(summary["StreamARN"], arn(WEST, summary["StreamName"]))
        self.assert_error(lambda: self.east.describe_stream_summary(StreamName="west-only"),
                          "ResourceNotFoundException",
                          f"Stream west-only under account {ACCOUNT} not found.")

    def test_stream_arn_of_the_other_region_is_refused(self):
        self.create(self.west, "by-arn", 1)
        self.create(self.east, "by-arn", 1)
        got = self.west.describe_stream_summary(StreamARN=arn(WEST, "by-arn"))
        self.assertEqual(got["StreamDescriptionSummary"]["StreamARN"], arn(WEST, "by-arn"))
        self.assert_error(lambda: self.east.describe_stream(StreamARN=arn(WEST, "by-arn")),
                          "ResourceNotFoundException",
                          f"Stream by-arn under account {ACCOUNT} not found.")
        self.assert_error(lambda: self.west.put_record(StreamARN=arn(EAST, "by-arn"), Data=b"x",
                                                       PartitionKey="k"),
                          "ResourceNotFoundException")
        # An iterator of one region reads nothing in the other.
        it = self.west.get_shard_iterator(StreamName="by-arn", ShardId="shardId-000000000000",
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        self.assert_error(lambda: self.east.get_records(ShardIterator=it),
                          "InvalidArgumentException", "Invalid ShardIterator.")
        consumer = self.west.register_stream_consumer(StreamARN=arn(WEST, "by-arn"),
                                                      ConsumerName="c1")["Consumer"]
        self.assertTrue(consumer["ConsumerARN"].startswith(arn(WEST, "by-arn") + "/consumer/c1:"))


class RegionsWithoutAuthTest(RegionChecks, ServerTestCase):
    config_text = f"""
pipelines:
  - name: west-reader
    source:
      stream: {WEST}:piped
    processors:
      - type: json
    buffer: {{size_mib: 1, interval_s: 1}}
    destination:
      file: {{path: ./output}}
"""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.east = cls.client
        cls.west = cls.client_in(WEST)

    @classmethod
    def client_in(cls, region):
        cfg = botocore.config.Config(retries={"max_attempts": 1})
        return boto3.client("kinesis", endpoint_url=cls.server.endpoint, region_name=region,
                            aws_access_key_id=harness.ACCESS_KEY,
                            aws_secret_access_key=harness.SECRET_KEY, config=cfg)

    def test_aws_cli_with_region(self):
        code, _, err = harness.run_aws(self.server, "kinesis", "create-stream", "--stream-name",
                                       "cli-west", "--shard-count", "1", "--region", WEST)
        self.assertEqual(code, 0, err)
        wait_stream_active(self.west, "cli-west")
        code, out, err = harness.run_aws(self.server, "kinesis", "describe-stream-summary",
                                         "--stream-name", "cli-west", "--region", WEST)
        self.assertEqual(code, 0, err)
        self.assertEqual(out["StreamDescriptionSummary"]["StreamARN"], arn(WEST, "cli-west"))
        code, out, err = harness.run_aws(self.server, "kinesis", "list-streams", "--region", WEST)
        self.assertEqual(code, 0, err)
        self.assertIn("cli-west", out["StreamNames"])
        # The CLI's default region (us-east-1 here) does not see it.
        code, out, err = harness.run_aws(self.server, "kinesis", "list-streams")
        self.assertEqual(code, 0, err)
        self.assertNotIn("cli-west", out["StreamNames"])
        code, _, err = harness.run_aws(self.server, "kinesis", "describe-stream", "--stream-name",
                                       "cli-west", "--region", "eu-west-1")
        self.assertNotEqual(code, 0)
        self.assertIn("ResourceNotFoundException", err)

    def test_pipeline_reads_the_named_regions_stream(self):
        self.create(self.east, "piped", 1)
        self.create(self.west, "piped", 1)
        self.east.put_record(StreamName="piped", Data=json.dumps({"from": "east"}).encode(),
                             PartitionKey="k")
        self.west.put_record(StreamName="piped", Data=json.dumps({"from": "west"}).encode(),
                             PartitionKey="k")
        out_dir = os.path.join(self.server.workdir, "output", "west-reader")
        deadline = time.monotonic() + harness.scaled(30)
        docs = []
        while time.monotonic() < deadline:
            docs = []
            for path in sorted(glob.glob(os.path.join(out_dir, "*.ndjson"))):
                with open(path) as f:
                    docs += [json.loads(line) for line in f if line.strip()]
            if docs:
                break
            time.sleep(0.05)  # polling the output directory against the deadline
        self.assertEqual([d["document"] for d in docs], [{"from": "west"}], docs)


def write_auth_config(workdir):
    paths = {}
    for key_id, secret in (ADMIN, WEST_ONLY):
        path = os.path.join(workdir, key_id + ".secret")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, (secret + "\n").encode())
        os.close(fd)
        paths[key_id] = path
    config = os.path.join(workdir, "auth.yaml")
    with open(config, "w") as f:
        f.write(f"""auth:
  mode: sigv4
  credentials:
    - access_key_id: {ADMIN[0]}
      secret_access_key_file: {paths[ADMIN[0]]}
      allow: ["kinesis:*"]
      streams: ["*"]
    - access_key_id: {WEST_ONLY[0]}
      secret_access_key_file: {paths[WEST_ONLY[0]]}
      allow: ["kinesis:*"]
      streams: ["arn:aws:kinesis:{WEST}:{ACCOUNT}:stream/*"]
""")
    return config


class RegionsWithSigV4Test(RegionChecks, ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.TidelineServer(name=cls.__name__)
        cls.server.extra_args = ["--config", write_auth_config(cls.server.workdir)]
        cls.server.start()
        cls.east = cls.client_for(ADMIN, EAST)
        cls.west = cls.client_for(ADMIN, WEST)

    @classmethod
    def client_for(cls, key, region):
        cfg = botocore.config.Config(retries={"max_attempts": 1})
        return boto3.client("kinesis", endpoint_url=cls.server.endpoint, region_name=region,
                            aws_access_key_id=key[0], aws_secret_access_key=key[1], config=cfg)

    def test_a_policy_on_one_regions_arns_does_not_reach_the_other(self):
        self.create(self.east, "guarded", 1)
        self.create(self.west, "guarded", 1)
        west_only_in_west = self.client_for(WEST_ONLY, WEST)
        west_only_in_east = self.client_for(WEST_ONLY, EAST)
        west_only_in_west.put_record(StreamName="guarded", Data=b"ok", PartitionKey="k")
        self.assertEqual(self.read_all(self.west, "guarded"), [b"ok"])
        self.assert_error(
            lambda: west_only_in_east.put_record(StreamName="guarded", Data=b"no",
                                                 PartitionKey="k"),
            "AccessDeniedException",
            f"User: arn:aws:iam::{ACCOUNT}:user/{WEST_ONLY[0]} is not authorized to perform: "
            f"kinesis:PutRecord on resource: {arn(EAST, 'guarded')} because no identity-based "
            "policy allows the kinesis:PutRecord action")
        self.assertEqual(self.read_all(self.east, "guarded"), [])


if __name__ == "__main__":
    harness.main()
