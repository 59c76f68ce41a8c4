#!/usr/bin/env python3
"""StreamStatus CREATING and DELETING through unmodified boto3 against the real `tideline serve`:
the SDK's waiters (stream_exists, stream_not_exists), what each state refuses and with which
error, ListStreams' summaries, and a crash (SIGKILL) in either state.

Run: python3 test_stream_status.py --tideline build/cli/tideline
"""

import unittest

import harness
from harness import ServerTestCase

# Long enough that the calls made right after CreateStream / DeleteStream all land inside the
# state, even under the sanitizers.
STATUS_DELAY_MS = int(2000 * harness.TIME_FACTOR)
POLL_S = 0.05


def wait(client, waiter, name):
    """boto3's waiter, polling every 50 ms instead of its 10 s."""
    attempts = max(1, int(harness.scaled(30) / POLL_S))
    client.get_waiter(waiter).wait(StreamName=name,
                                   WaiterConfig={"Delay": POLL_S, "MaxAttempts": attempts})


class StreamStatusTest(ServerTestCase):
    config_text = f"server:\n  status_delay_ms: {STATUS_DELAY_MS}\n"

    def error(self, call, code, message=None):
        with self.assertRaises(harness.botocore.exceptions.ClientError) as cm:
            call()
        self.assertEqual(cm.exception.response["Error"]["Code"], code)
        if message is not None:
            self.assertEqual(cm.exception.response["Error"]["Message"], message)

    def status(self, name):
        return self.client.describe_stream_summary(
            StreamName=name)["StreamDescriptionSummary"]["StreamStatus"]

    def listed(self, name):
        for s in self.client.list_streams()["StreamSummaries"]:
            if s["StreamName"] == name:
                return s["StreamStatus"]
        return None

    def account(self):
        arn = self.client.describe_stream_summary(
            StreamName=self.names[0])["StreamDescriptionSummary"]["StreamARN"]
        return arn.split(":")[4]

    def test_create_and_delete_with_waiters_and_refusals(self):
        c = self.client
        name = "st-life"
        self.names = [name]
        c.create_stream(StreamName=name, ShardCount=2)
        account = self.account()
        not_found = f"Stream {name} under account {account} not found."
        self.assertEqual(self.status(name), "CREATING")
        self.assertEqual(c.describe_stream(StreamName=name)["StreamDescription"]["StreamStatus"],
                         "CREATING")
        self.assertEqual(self.listed(name), "CREATING")
        # Producers and readers do not find it yet; changes are refused until it is ACTIVE.
        self.error(lambda: c.put_record(StreamName=name, Data=b"x", PartitionKey="k"),
                   "ResourceNotFoundException", not_found)
        self.error(lambda: c.put_records(StreamName=name,
                                         Records=[{"Data": b"x", "PartitionKey": "k"}]),
                   "ResourceNotFoundException", not_found)
        self.error(lambda: c.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                                ShardIteratorType="TRIM_HORIZON"),
                   "ResourceNotFoundException", not_found)
        creating = f"Stream {name} under account {account} not ACTIVE, instead in state CREATING"
        self.error(lambda: c.split_shard(StreamName=name, ShardToSplit="shardId-000000000000",
                                         NewStartingHashKey=str(2**126)),
                   "ResourceInUseException", creating)
        self.error(lambda: c.add_tags_to_stream(StreamName=name, Tags={"k": "v"}),
                   "ResourceInUseException", creating)
        self.error(lambda: c.increase_stream_retention_period(StreamName=name,
                                                              RetentionPeriodHours=48),
                   "ResourceInUseException", creating)
        self.error(lambda: c.list_shards(StreamName=name), "ResourceInUseException", creating)
        self.error(lambda: c.delete_stream(StreamName=name), "ResourceInUseException",
                   f"Attempt to change a resource which is still in use: Stream is being "
                   f"created: {name}")
        self.error(lambda: c.create_stream(StreamName=name, ShardCount=1),
                   "ResourceInUseException", f"Stream {name} under account {account} already "
                   f"exists.")

        wait(c, "stream_exists", name)
        self.assertEqual(self.status(name), "ACTIVE")
        self.assertEqual(self.listed(name), "ACTIVE")
        put = c.put_record(StreamName=name, Data=b"kept", PartitionKey="k")
        c.add_tags_to_stream(StreamName=name, Tags={"k": "v"})
        self.assertEqual(len(c.list_shards(StreamName=name)["Shards"]), 2)

        c.delete_stream(StreamName=name)
        description = c.describe_stream(StreamName=name)["StreamDescription"]
        self.assertEqual(description["StreamStatus"], "DELETING")
        self.assertEqual(description["Shards"], [])
        self.assertEqual(self.listed(name), "DELETING")
        self.error(lambda: c.put_record(StreamName=name, Data=b"x", PartitionKey="k"),
                   "ResourceNotFoundException", not_found)
        self.error(lambda: c.get_shard_iterator(
            StreamName=name, ShardId=put["ShardId"], ShardIteratorType="AT_SEQUENCE_NUMBER",
            StartingSequenceNumber=put["SequenceNumber"]), "ResourceNotFoundException", not_found)
        self.error(lambda: c.add_tags_to_stream(StreamName=name, Tags={"k": "w"}),
                   "ResourceInUseException",
                   f"Stream {name} under account {account} not ACTIVE, instead in state DELETING")
        self.error(lambda: c.create_stream(StreamName=name, ShardCount=1),
                   "ResourceInUseException")
        c.delete_stream(StreamName=name)  # again while DELETING: accepted, changes nothing

        wait(c, "stream_not_exists", name)
        self.error(lambda: c.describe_stream_summary(StreamName=name),
                   "ResourceNotFoundException", not_found)
        self.assertIsNone(self.listed(name))
        # The name is free again, and the new stream starts empty.
        c.create_stream(StreamName=name, ShardCount=1)
        wait(c, "stream_exists", name)
        it = c.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        self.assertEqual(c.get_records(ShardIterator=it)["Records"], [])
        self.assertEqual(c.list_tags_for_stream(StreamName=name)["Tags"], [])
        c.delete_stream(StreamName=name)
        wait(c, "stream_not_exists", name)

    def test_a_crash_ends_creating_and_deleting(self):
        c = self.client
        self.names = ["st-kept"]
        c.create_stream(StreamName="st-kept", ShardCount=1)
        c.create_stream(StreamName="st-dropped", ShardCount=1)
        wait(c, "stream_exists", "st-dropped")
        seq = c.put_record(StreamName="st-dropped", Data=b"x", PartitionKey="k")
        c.delete_stream(StreamName="st-dropped")
        c.create_stream(StreamName="st-new", ShardCount=1)
        self.assertEqual(self.status("st-new"), "CREATING")
        self.assertEqual(self.status("st-dropped"), "DELETING")

        self.server.kill()
        self.server.start()
        # The restarted server may listen on another port: every later test uses the new client.
        c = type(self).client = self.client = self.server.boto3_client()
        # What was created is a usable, ACTIVE stream; what was deleted is gone, records too.
        self.assertEqual(self.status("st-new"), "ACTIVE")
        c.put_record(StreamName="st-new", Data=b"after", PartitionKey="k")
        self.error(lambda: c.describe_stream(StreamName="st-dropped"),
                   "ResourceNotFoundException")
        c.create_stream(StreamName="st-dropped", ShardCount=1)
        wait(c, "stream_exists", "st-dropped")
        it = c.get_shard_iterator(StreamName="st-dropped", ShardId=seq["ShardId"],
                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        self.assertEqual(c.get_records(ShardIterator=it)["Records"], [])
        for name in ("st-kept", "st-new", "st-dropped"):
            wait(c, "stream_exists", name)
            c.delete_stream(StreamName=name)
        for name in ("st-kept", "st-new", "st-dropped"):
            wait(c, "stream_not_exists", name)


if __name__ == "__main__":
    harness.main()
