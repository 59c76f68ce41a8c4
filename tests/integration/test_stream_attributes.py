#!/usr/bin/env python3
"""Tags, capacity modes, encryption and monitoring settings, resource policies, registered
consumers and DescribeLimits through unmodified boto3 and the AWS CLI against the real
`tideline serve`, including a restart: what the API reported before it, it reports after.

Run: python3 test_stream_attributes.py --tideline build/cli/tideline
"""

import time
import unittest

import harness
from harness import ServerTestCase, run_aws, scaled, wait_stream_active

# Consumers stay CREATING this long: long enough that the six registrations of the limit check
# all happen within it, even under the sanitizers.
STATUS_DELAY_MS = int(3000 * harness.TIME_FACTOR)


class StreamAttributesTest(ServerTestCase):
    config_text = f"server:\n  status_delay_ms: {STATUS_DELAY_MS}\n"

    def make(self, name, **kwargs):
        self.client.create_stream(StreamName=name, **kwargs)
        return wait_stream_active(self.client, name)

    def arn(self, name):
        return self.client.describe_stream_summary(
            StreamName=name)["StreamDescriptionSummary"]["StreamARN"]

    def test_tags_on_streams_with_limits_and_paging(self):
        c = self.client
        self.make("at-tags", ShardCount=1, Tags={"team": "web", "env": "prod"})
        c.add_tags_to_stream(StreamName="at-tags", Tags={"env": "staging", "owner": "ops"})
        tags = c.list_tags_for_stream(StreamName="at-tags")
        self.assertEqual(tags["Tags"], [{"Key": "env", "Value": "staging"},
                                        {"Key": "owner", "Value": "ops"},
                                        {"Key": "team", "Value": "web"}])
        self.assertFalse(tags["HasMoreTags"])
        page = c.list_tags_for_stream(StreamName="at-tags", Limit=2)
        self.assertEqual([t["Key"] for t in page["Tags"]], ["env", "owner"])
        self.assertTrue(page["HasMoreTags"])
        rest = c.list_tags_for_stream(StreamName="at-tags", ExclusiveStartTagKey="owner")
        self.assertEqual([t["Key"] for t in rest["Tags"]], ["team"])
        c.remove_tags_from_stream(StreamName="at-tags", TagKeys=["owner", "absent"])
        self.assertEqual([t["Key"] for t in c.list_tags_for_stream(StreamName="at-tags")["Tags"]],
                         ["env", "team"])
        # 50 tags per stream at most; a refused call changes nothing.
        with self.assertRaises(c.exceptions.InvalidArgumentException):
            c.add_tags_to_stream(StreamName="at-tags",
                                 Tags={f"k{i:02}": "v" for i in range(49)})
        self.assertEqual(len(c.list_tags_for_stream(StreamName="at-tags")["Tags"]), 2)
        with self.assertRaises(c.exceptions.InvalidArgumentException):
            c.add_tags_to_stream(StreamName="at-tags", Tags={"aws:reserved": "x"})
        with self.assertRaises(c.exceptions.ResourceNotFoundException):
            c.add_tags_to_stream(StreamName="at-missing", Tags={"a": "b"})
        # The ARN-based operations see the same tags.
        arn = self.arn("at-tags")
        c.tag_resource(ResourceARN=arn, Tags={"cost": "42"})
        c.untag_resource(ResourceARN=arn, TagKeys=["env"])
        self.assertEqual(c.list_tags_for_resource(ResourceARN=arn)["Tags"],
                         [{"Key": "cost", "Value": "42"}, {"Key": "team", "Value": "web"}])
        # The AWS CLI reads them the same way.
        code, out, err = run_aws(self.server, "kinesis", "list-tags-for-stream",
                                 "--stream-name", "at-tags")
        self.assertEqual(code, 0, err)
        self.assertEqual([t["Key"] for t in out["Tags"]], ["cost", "team"])

    def test_modes_encryption_monitoring_and_limits(self):
        c = self.client
        s = self.make("at-ondemand", StreamModeDetails={"StreamMode": "ON_DEMAND"})
        self.assertEqual(s["StreamModeDetails"]["StreamMode"], "ON_DEMAND")
        self.assertEqual(s["OpenShardCount"], 4)
        limits = c.describe_limits()
        self.assertGreaterEqual(limits["OnDemandStreamCount"], 1)
        self.assertGreaterEqual(limits["OpenShardCount"], 4)
        self.assertGreater(limits["ShardLimit"], 0)
        on_demand_before = limits["OnDemandStreamCount"]
        c.update_stream_mode(StreamARN=self.arn("at-ondemand"),
                             StreamModeDetails={"StreamMode": "PROVISIONED"})
        self.assertEqual(c.describe_limits()["OnDemandStreamCount"], on_demand_before - 1)
        self.assertEqual(c.describe_stream(StreamName="at-ondemand")["StreamDescription"]
                         ["StreamModeDetails"]["StreamMode"], "PROVISIONED")

        c.start_stream_encryption(StreamName="at-ondemand", EncryptionType="KMS",
                                  KeyId="alias/aws/kinesis")
        d = c.describe_stream_summary(StreamName="at-ondemand")["StreamDescriptionSummary"]
        self.assertEqual((d["EncryptionType"], d["KeyId"]), ("KMS", "alias/aws/kinesis"))
        with self.assertRaises(c.exceptions.InvalidArgumentException):
            c.stop_stream_encryption(StreamName="at-ondemand", EncryptionType="KMS",
                                     KeyId="alias/other")
        c.stop_stream_encryption(StreamName="at-ondemand", EncryptionType="KMS",
                                 KeyId="alias/aws/kinesis")
        self.assertEqual(c.describe_stream_summary(StreamName="at-ondemand")
                         ["StreamDescriptionSummary"]["EncryptionType"], "NONE")

        r = c.enable_enhanced_monitoring(StreamName="at-ondemand",
                                         ShardLevelMetrics=["IncomingBytes", "OutgoingRecords"])
        self.assertEqual(r["CurrentShardLevelMetrics"], [])
        self.assertEqual(r["DesiredShardLevelMetrics"], ["IncomingBytes", "OutgoingRecords"])
        r = c.disable_enhanced_monitoring(StreamName="at-ondemand",
                                          ShardLevelMetrics=["IncomingBytes"])
        self.assertEqual(r["DesiredShardLevelMetrics"], ["OutgoingRecords"])
        r = c.enable_enhanced_monitoring(StreamName="at-ondemand", ShardLevelMetrics=["ALL"])
        self.assertEqual(len(r["DesiredShardLevelMetrics"]), 7)
        self.assertEqual(c.describe_stream(StreamName="at-ondemand")["StreamDescription"]
                         ["EnhancedMonitoring"][0]["ShardLevelMetrics"],
                         r["DesiredShardLevelMetrics"])

    def test_resource_policies(self):
        c = self.client
        self.make("at-policy", ShardCount=1)
        arn = self.arn("at-policy")
        self.assertEqual(c.get_resource_policy(ResourceARN=arn)["Policy"], "{}")
        policy = '{"Version":"2012-10-17","Statement":[]}'
        c.put_resource_policy(ResourceARN=arn, Policy=policy)
        self.assertEqual(c.get_resource_policy(ResourceARN=arn)["Policy"], policy)
        with self.assertRaises(c.exceptions.InvalidArgumentException):
            c.put_resource_policy(ResourceARN=arn, Policy="not json")
        c.delete_resource_policy(ResourceARN=arn)
        self.assertEqual(c.get_resource_policy(ResourceARN=arn)["Policy"], "{}")
        with self.assertRaises(c.exceptions.ResourceNotFoundException):
            c.delete_resource_policy(ResourceARN=arn)

    def wait_consumer(self, arn, status):
        deadline = time.monotonic() + scaled(STATUS_DELAY_MS / 1000 + 10)
        while True:
            d = self.client.describe_stream_consumer(ConsumerARN=arn)["ConsumerDescription"]
            if d["ConsumerStatus"] == status:
                return d
            self.assertLess(time.monotonic(), deadline, f"consumer never {status}: {d}")
            time.sleep(0.05)

    def test_consumers_lifecycle_limits_and_pages(self):
        c = self.client
        self.make("at-consumers", ShardCount=1)
        stream_arn = self.arn("at-consumers")
        made = c.register_stream_consumer(StreamARN=stream_arn, ConsumerName="search",
                                          Tags={"team": "search"})["Consumer"]
        self.assertEqual(made["ConsumerStatus"], "CREATING")
        self.assertTrue(made["ConsumerARN"].startswith(stream_arn + "/consumer/search:"))
        d = self.wait_consumer(made["ConsumerARN"], "ACTIVE")
        self.assertEqual(d["StreamARN"], stream_arn)
        by_name = c.describe_stream_consumer(StreamARN=stream_arn, ConsumerName="search")
        self.assertEqual(by_name["ConsumerDescription"]["ConsumerARN"], made["ConsumerARN"])
        self.assertEqual(c.list_tags_for_resource(ResourceARN=made["ConsumerARN"])["Tags"],
                         [{"Key": "team", "Value": "search"}])
        self.assertEqual(c.describe_stream_summary(StreamName="at-consumers")
                         ["StreamDescriptionSummary"]["ConsumerCount"], 1)
        with self.assertRaises(c.exceptions.ResourceInUseException):
            c.register_stream_consumer(StreamARN=stream_arn, ConsumerName="search")

        # At most 5 CREATING at once ("search" is ACTIVE by now).
        for i in range(5):
            c.register_stream_consumer(StreamARN=stream_arn, ConsumerName=f"c{i:02}")
        with self.assertRaises(c.exceptions.LimitExceededException):
            c.register_stream_consumer(StreamARN=stream_arn, ConsumerName="c-too-many")

        # Pages of 2 walk every consumer once, in name order.
        names, token = [], None
        while True:
            kwargs = {"StreamARN": stream_arn, "MaxResults": 2}
            if token:
                kwargs["NextToken"] = token
            page = c.list_stream_consumers(**kwargs)
            names += [x["ConsumerName"] for x in page["Consumers"]]
            token = page.get("NextToken")
            if not token:
                break
        self.assertEqual(names, ["c00", "c01", "c02", "c03", "c04", "search"])

        c.deregister_stream_consumer(ConsumerARN=made["ConsumerARN"])
        self.assertEqual(c.describe_stream_consumer(ConsumerARN=made["ConsumerARN"])
                         ["ConsumerDescription"]["ConsumerStatus"], "DELETING")
        deadline = time.monotonic() + scaled(STATUS_DELAY_MS / 1000 + 10)
        while True:
            try:
                c.describe_stream_consumer(ConsumerARN=made["ConsumerARN"])
            except c.exceptions.ResourceNotFoundException:
                break
            self.assertLess(time.monotonic(), deadline, "deregistered consumer never went away")
            time.sleep(0.05)
        with self.assertRaises(c.exceptions.ResourceNotFoundException):
            c.deregister_stream_consumer(StreamARN=stream_arn, ConsumerName="search")

    def test_attributes_survive_a_restart(self):
        c = self.client
        self.make("at-restart", ShardCount=1, Tags={"k": "v"})
        arn = self.arn("at-restart")
        c.start_stream_encryption(StreamName="at-restart", EncryptionType="KMS", KeyId="k1")
        consumer = c.register_stream_consumer(StreamARN=arn, ConsumerName="kept")["Consumer"]
        c.put_resource_policy(ResourceARN=arn, Policy='{"Version":"2012-10-17"}')
        self.server.stop()
        self.server.start()
        # The restarted server may listen on another port: every later test uses the new client.
        c = type(self).client = self.server.boto3_client()
        self.assertEqual(c.list_tags_for_stream(StreamName="at-restart")["Tags"],
                         [{"Key": "k", "Value": "v"}])
        self.assertEqual(c.describe_stream_summary(StreamName="at-restart")
                         ["StreamDescriptionSummary"]["KeyId"], "k1")
        self.assertEqual(c.describe_stream_consumer(ConsumerARN=consumer["ConsumerARN"])
                         ["ConsumerDescription"]["ConsumerName"], "kept")
        self.assertEqual(c.get_resource_policy(ResourceARN=arn)["Policy"],
                         '{"Version":"2012-10-17"}')
        # A stream deleted and made again starts with none of it.
        c.delete_stream(StreamName="at-restart")
        harness.wait_stream_gone(c, "at-restart")
        self.make("at-restart", ShardCount=1)
        self.assertEqual(c.list_tags_for_stream(StreamName="at-restart")["Tags"], [])
        self.assertEqual(c.list_stream_consumers(StreamARN=arn)["Consumers"], [])


if __name__ == "__main__":
    harness.main()
