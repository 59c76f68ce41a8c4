#!/usr/bin/env python3
"""SubscribeToShard (enhanced fan-out) with boto3's unmodified subscribe_to_shard over HTTP/1.1:
every starting position, renewal across a short configured subscription duration with the last
ContinuationSequenceNumber (no gap, no repeat), ResourceInUseException for a second subscription
within the takeover window, errors before the stream starts, DeregisterStreamConsumer and
DeleteStream ending a subscription with an exception event, resharding ending a parent's stream
with ChildShards, and a SIGKILL of the server while subscribers read: a subscriber that resumes
from its last ContinuationSequenceNumber after the restart receives every acknowledged record, in
order, once.

Run: python3 test_subscribe.py --tideline build/cli/tideline
"""

import threading
import time
import unittest

import botocore.exceptions

import harness
from harness import ServerTestCase

DURATION_MS = 2000  # server.subscription_duration_ms: renewals happen within the test
SHARD0 = "shardId-000000000000"


def stream_arn(client, name):
    return client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]


def register(client, stream, name):
    arn = stream_arn(client, stream)
    return client.register_stream_consumer(StreamARN=arn, ConsumerName=name)["Consumer"][
        "ConsumerARN"]


def collect(client, consumer_arn, position, shard=SHARD0, stop=None, on_event=None):
    """Subscribes and reads SubscribeToShardEvents until the stream ends (or stop(events) says
    so, which closes it). Returns (events, exception code or None)."""
    resp = client.subscribe_to_shard(ConsumerARN=consumer_arn, ShardId=shard,
                                     StartingPosition=position)
    stream = resp["EventStream"]
    events = []
    try:
        for ev in stream:
            events.append(ev["SubscribeToShardEvent"])
            if on_event is not None:
                on_event(events)
            if stop is not None and stop(events):
                break
    except botocore.exceptions.EventStreamError as err:
        return events, err.response["Error"]["Code"]
    finally:
        stream.close()
    return events, None


def datas(events):
    return [r["Data"] for e in events for r in e["Records"]]


def error_code(call):
    try:
        call()
    except botocore.exceptions.ClientError as err:
        return err.response["Error"]["Code"]
    return None


class SubscribeTest(ServerTestCase):
    config_text = f"server:\n  status_delay_ms: 0\n  subscription_duration_ms: {DURATION_MS}\n"

    def make_stream(self, name, shards=1):
        self.client.create_stream(StreamName=name, ShardCount=shards)
        harness.wait_stream_active(self.client, name)

    def put(self, stream, payloads, key="k"):
        """Puts each payload (one PutRecords), returns their sequence numbers."""
        r = self.client.put_records(StreamName=stream, Records=[
            {"Data": p, "PartitionKey": key} for p in payloads])
        self.assertEqual(r["FailedRecordCount"], 0)
        return [x["SequenceNumber"] for x in r["Records"]]

    def test_every_starting_position(self):
        self.make_stream("positions")
        seqs = self.put("positions", [b"a", b"b"])
        # boto3 sends the Timestamp in whole seconds: c and d come after the next second starts.
        at_c = float(int(time.time()) + 1)
        harness.wait_clock_past(at_c)
        later = self.put("positions", [b"c", b"d"])
        cases = [
            ({"Type": "TRIM_HORIZON"}, [b"a", b"b", b"c", b"d"]),
            ({"Type": "LATEST"}, []),
            ({"Type": "AT_SEQUENCE_NUMBER", "SequenceNumber": seqs[1]}, [b"b", b"c", b"d"]),
            ({"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": seqs[1]}, [b"c", b"d"]),
            ({"Type": "AT_TIMESTAMP", "Timestamp": at_c}, [b"c", b"d"]),
        ]
        for i, (position, expected) in enumerate(cases):
            with self.subTest(position=position["Type"]):
                arn = register(self.client, "positions", f"pos{i}")
                events, err = collect(self.client, arn, position, stop=lambda e: True)
                self.assertIsNone(err)
                self.assertEqual(datas(events), expected)
                self.assertEqual(events[0]["MillisBehindLatest"], 0)
                self.assertEqual(events[0]["ContinuationSequenceNumber"], later[-1])
                for record in events[0]["Records"]:
                    self.assertEqual(record["PartitionKey"], "k")
                    self.assertIn("ApproximateArrivalTimestamp", record)

    def test_renewal_with_continuation_has_no_gap_and_no_repeat(self):
        self.make_stream("renew")
        arn = register(self.client, "renew", "c")
        acked = []
        done = threading.Event()

        def produce():
            client = self.server.boto3_client()
            n = 0
            while not done.is_set():
                batch = [f"r{n + i}".encode() for i in range(20)]
                r = client.put_records(StreamName="renew", Records=[
                    {"Data": p, "PartitionKey": "k"} for p in batch])
                if r["FailedRecordCount"] == 0:
                    acked.extend(batch)
                n += 20
                time.sleep(0.05)  # pacing the producer, not synchronisation

        producer = threading.Thread(target=produce)
        # An empty shard under LATEST: the first continuation comes before any record exists.
        # The producer starts once the first event is in, so that LATEST was resolved before
        # any record was put (a record acknowledged before it would rightly not be read).
        position = {"Type": "LATEST"}
        received, subscriptions = [], 0

        def start_producer(_events):
            if producer.ident is None:
                producer.start()

        try:
            deadline = time.monotonic() + harness.scaled(60)
            while subscriptions < 4 and time.monotonic() < deadline:
                events, err = collect(self.client, arn, position, on_event=start_producer)
                self.assertIsNone(err)
                self.assertTrue(events, "every subscription sends at least one event")
                received.extend(datas(events))
                position = {"Type": "AFTER_SEQUENCE_NUMBER",
                            "SequenceNumber": events[-1]["ContinuationSequenceNumber"]}
                subscriptions += 1
        finally:
            done.set()
            if producer.ident is not None:
                producer.join()
        self.assertEqual(subscriptions, 4)
        # Read what the producer added since, then compare with what it was acknowledged.
        while len(received) < len(acked):
            events, err = collect(self.client, arn, position,
                                  stop=lambda e: not e[-1]["Records"])
            received.extend(datas(events))
            position = {"Type": "AFTER_SEQUENCE_NUMBER",
                        "SequenceNumber": events[-1]["ContinuationSequenceNumber"]}
            if not events[-1]["Records"] and len(received) < len(acked):
                seen = set(received)
                missing = [d for d in acked if d not in seen]
                self.fail(f"caught up with {len(received)} of {len(acked)} records; "
                          f"{len(missing)} missing from {missing[:1]}, "
                          f"{len(received) - len(set(received))} repeated")
        self.assertGreater(len(acked), 100)
        self.assertEqual(received, acked, "renewals must neither skip nor repeat a record")

    def test_second_subscription_within_the_window_is_refused(self):
        self.make_stream("inuse")
        arn = register(self.client, "inuse", "c")
        resp = self.client.subscribe_to_shard(ConsumerARN=arn, ShardId=SHARD0,
                                              StartingPosition={"Type": "LATEST"})
        try:
            code = error_code(lambda: self.client.subscribe_to_shard(
                ConsumerARN=arn, ShardId=SHARD0, StartingPosition={"Type": "LATEST"}))
            self.assertEqual(code, "ResourceInUseException")
        finally:
            resp["EventStream"].close()

    def test_errors_before_the_stream_starts(self):
        self.make_stream("errors")
        arn = register(self.client, "errors", "c")
        seq = self.put("errors", [b"x"])[0]
        bad_consumer = arn.rsplit("/consumer/", 1)[0] + "/consumer/nobody:1"
        cases = [
            (bad_consumer, SHARD0, {"Type": "LATEST"}, "ResourceNotFoundException"),
            (arn, "shardId-000000000007", {"Type": "LATEST"}, "ResourceNotFoundException"),
            (arn, SHARD0, {"Type": "AT_SEQUENCE_NUMBER"}, "InvalidArgumentException"),
            (arn, SHARD0, {"Type": "AT_TIMESTAMP"}, "InvalidArgumentException"),
            (arn, SHARD0, {"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": seq + "1"},
             "InvalidArgumentException"),
        ]
        for consumer, shard, position, expected in cases:
            with self.subTest(position=position, shard=shard):
                code = error_code(lambda: self.client.subscribe_to_shard(
                    ConsumerARN=consumer, ShardId=shard, StartingPosition=position))
                self.assertEqual(code, expected)

    def run_until_first_event(self, arn, position=None):
        """Starts collect() in a thread; returns (thread, result dict) once the first event is in."""
        first = threading.Event()
        result = {}

        def run():
            try:
                result["events"], result["error"] = collect(
                    self.server.boto3_client(), arn, position or {"Type": "LATEST"},
                    on_event=lambda e: first.set())
            except Exception as exc:  # reported by the test, not lost in the thread
                result["exception"] = exc
            first.set()

        thread = threading.Thread(target=run)
        thread.start()
        self.assertTrue(first.wait(harness.scaled(10)), "no first event")
        return thread, result

    def test_deregistering_the_consumer_ends_its_subscription(self):
        self.make_stream("dereg")
        arn = register(self.client, "dereg", "c")
        thread, result = self.run_until_first_event(arn)
        started = time.monotonic()
        self.client.deregister_stream_consumer(ConsumerARN=arn)
        thread.join(harness.scaled(10))
        self.assertFalse(thread.is_alive())
        self.assertNotIn("exception", result)
        self.assertEqual(result["error"], "ResourceNotFoundException")
        self.assertLess(time.monotonic() - started, DURATION_MS / 1000.0)

    def test_delete_stream_ends_its_subscriptions(self):
        self.make_stream("deleted")
        arn = register(self.client, "deleted", "c")
        thread, result = self.run_until_first_event(arn)
        self.client.delete_stream(StreamName="deleted")
        thread.join(harness.scaled(10))
        self.assertFalse(thread.is_alive())
        self.assertNotIn("exception", result)
        self.assertEqual(result["error"], "ResourceNotFoundException")
        harness.wait_stream_gone(self.client, "deleted")

    def test_resharding_ends_the_parent_with_child_shards(self):
        self.make_stream("split")
        arn = register(self.client, "split", "c")
        self.put("split", [b"before"])
        thread, result = self.run_until_first_event(arn, {"Type": "TRIM_HORIZON"})
        self.client.split_shard(StreamName="split", ShardToSplit=SHARD0,
                                NewStartingHashKey=str(2 ** 127))
        thread.join(harness.scaled(10))
        self.assertFalse(thread.is_alive())
        self.assertNotIn("exception", result)
        self.assertIsNone(result["error"])
        events = result["events"]
        self.assertEqual(datas(events), [b"before"])
        last = events[-1]
        self.assertNotIn("ContinuationSequenceNumber", last, "a shard's end has no continuation")
        children = sorted(c["ShardId"] for c in last["ChildShards"])
        self.assertEqual(children, ["shardId-000000000001", "shardId-000000000002"])
        for child in last["ChildShards"]:
            self.assertEqual(child["ParentShards"], [SHARD0])
        # The children deliver what comes next.
        harness.wait_stream_active(self.client, "split")
        self.put("split", [b"after"], key="after")
        got = []
        for child in children:
            events, _ = collect(self.client, arn, {"Type": "TRIM_HORIZON"}, shard=child,
                                stop=lambda e: True)
            got.extend(datas(events))
        self.assertEqual(got, [b"after"])


class SubscribeTlsTest(unittest.TestCase):
    """The same event stream over HTTPS: chunks through TLS, the watching read beside the
    writes, and the connection reused once a stream has ended."""

    def test_subscription_over_tls(self):
        import tempfile
        import test_tls  # its throwaway CA and TlsServer
        tmp = tempfile.mkdtemp(prefix="tideline-subscribe-tls-")
        pki = test_tls.Pki(f"{tmp}/pki")
        crt, key = pki.issue("server", "tideline-subscribe", 2001)
        config = f"{tmp}/tideline.yaml"
        duration_ms = int(harness.scaled(1000))  # also the takeover window
        with open(config, "w") as f:
            f.write(f"server:\n  status_delay_ms: 0\n  subscription_duration_ms: {duration_ms}\n"
                    f"  tls:\n    cert_file: {crt}\n    key_file: {key}\n")
        server = test_tls.TlsServer(pki.ca_file, extra_args=["--config", config],
                                    name="SubscribeTls")
        server.start()
        try:
            client = server.boto3_client()
            client.create_stream(StreamName="tls", ShardCount=1)
            harness.wait_stream_active(client, "tls")
            arn = register(client, "tls", "c")
            client.put_records(StreamName="tls", Records=[
                {"Data": f"t{i}".encode(), "PartitionKey": "k"} for i in range(100)])
            events, err = collect(client, arn, {"Type": "TRIM_HORIZON"})  # to the stream's end
            self.assertIsNone(err)
            self.assertEqual(datas(events), [f"t{i}".encode() for i in range(100)])
            # A client that closes mid-stream frees the pair as soon as the server reads the
            # close (no event needs to fail first): well within the takeover window.
            started = time.monotonic()
            events, err = collect(client, arn, {"Type": "LATEST"}, stop=lambda e: True)
            self.assertIsNone(err)
            while True:
                try:
                    events, err = collect(client, arn, {"Type": "TRIM_HORIZON"},
                                          stop=lambda e: True)
                    break
                except botocore.exceptions.ClientError as e:
                    # Refused while the close is unnoticed (which must not last), or within the
                    # second that allows one call per consumer and shard.
                    code = e.response["Error"]["Code"]
                    self.assertIn(code, ("ResourceInUseException", "LimitExceededException"))
                    if code == "ResourceInUseException":
                        self.assertLess(time.monotonic() - started, 0.9 * duration_ms / 1000,
                                        "the close went unnoticed")
            self.assertEqual(len(datas(events)), 100)
            self.assertEqual(client.list_streams()["StreamNames"], ["tls"])
        finally:
            harness.stop_and_clean(server, lambda: __import__("shutil").rmtree(tmp, True))


class SubscribeCrashTest(unittest.TestCase):
    """SIGKILL while a subscriber reads and producers write; the subscriber resumes from its last
    ContinuationSequenceNumber after the restart."""

    def test_resuming_subscriber_gets_every_acknowledged_record_once_in_order(self):
        server = harness.TidelineServer(name="SubscribeCrash")
        config = f"{server.workdir}/tideline.yaml"
        with open(config, "w") as f:
            f.write("server:\n  status_delay_ms: 0\n  subscription_duration_ms: 3000\n")
        server.extra_args += ["--config", config]
        server.start()
        try:
            self.drill(server)
        finally:
            harness.stop_and_clean(server)

    def drill(self, server):
        client = server.boto3_client()
        client.create_stream(StreamName="crash", ShardCount=1)
        harness.wait_stream_active(client, "crash")
        arn = register(client, "crash", "c")
        acked = []  # (sequence number, data), appended by both producers

        def produce(tag):
            """Puts until the server dies under it."""
            c = server.boto3_client()
            n = 0
            while True:
                batch = [f"{tag}-{n + i}".encode() for i in range(25)]
                try:
                    r = c.put_records(StreamName="crash", Records=[
                        {"Data": p, "PartitionKey": "k"} for p in batch])
                except Exception:
                    return  # the server died: what was not acknowledged may or may not exist
                for p, res in zip(batch, r["Records"]):
                    if "SequenceNumber" in res:
                        acked.append((res["SequenceNumber"], p))
                n += 25

        received = []  # (sequence number, data) in delivery order
        state = {"position": {"Type": "TRIM_HORIZON"}}

        def take(events):
            """What a checkpointing consumer does with each event: process its records, then
            remember its continuation."""
            event = events[-1]
            received.extend((r["SequenceNumber"], r["Data"]) for r in event["Records"])
            state["position"] = {"Type": "AFTER_SEQUENCE_NUMBER",
                                 "SequenceNumber": event["ContinuationSequenceNumber"]}

        def subscribe_until(client, condition):
            """Renews subscriptions from the last continuation until condition() holds; "broken"
            when the server goes away, the exception code when the stream ends with one."""
            deadline = time.monotonic() + harness.scaled(60)
            while not condition() and time.monotonic() < deadline:
                try:
                    _, err = collect(client, arn, state["position"], on_event=take,
                                     stop=lambda e: condition())
                except Exception:  # connection reset, refused, or cut mid-event
                    return "broken"
                if err is not None:
                    return err
            return None

        producers = [threading.Thread(target=produce, args=(t,)) for t in ("p", "q")]
        for p in producers:
            p.start()
        consumer_result = {}
        consumer = threading.Thread(target=lambda: consumer_result.update(
            end=subscribe_until(server.boto3_client(read_timeout=10), lambda: False)))
        consumer.start()
        # Kill once the subscriber has read a good part of what was written.
        deadline = time.monotonic() + harness.scaled(30)
        while len(received) < 2000 and time.monotonic() < deadline:
            time.sleep(0.01)  # polling the test's own counters, bounded by the deadline
        self.assertGreaterEqual(len(received), 2000, "the subscriber did not get going")
        server.kill()
        for p in producers:
            p.join()
        consumer.join(harness.scaled(30))
        self.assertFalse(consumer.is_alive())
        self.assertEqual(consumer_result.get("end"), "broken")

        server.start()
        client = server.boto3_client()
        before_restart = len(acked)
        r = client.put_records(StreamName="crash", Records=[
            {"Data": f"after-{i}".encode(), "PartitionKey": "k"} for i in range(50)])
        acked.extend((x["SequenceNumber"], f"after-{i}".encode())
                     for i, x in enumerate(r["Records"]))
        last_acked = acked[-1][0]
        end = subscribe_until(client, lambda: bool(received) and received[-1][0] >= last_acked)
        self.assertIsNone(end)

        seqs = [s for s, _ in received]
        self.assertEqual(len(seqs), len(set(seqs)), "a record was delivered twice")
        self.assertEqual(seqs, sorted(seqs, key=int), "records out of order")
        got = dict(received)
        missing = [s for s, _ in acked if s not in got]
        self.assertEqual(missing, [], f"{len(missing)} acknowledged records never delivered")
        for s, data in acked:
            self.assertEqual(got[s], data)
        self.assertGreaterEqual(before_restart, 2000)


if __name__ == "__main__":
    harness.main()
