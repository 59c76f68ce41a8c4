#!/usr/bin/env python3
"""Bad input of every kind gets the exact Kinesis error (__type + HTTP status) and the server
keeps serving. Run: python3 test_bad_input.py --tideline build/cli/tideline"""

import hashlib
import json
import random
import select
import socket
import time
import unittest
import urllib.error
import urllib.request

import harness
from harness import ServerTestCase, wait_stream_active

ClientError = harness.botocore.exceptions.ClientError
STREAM = "bad-input"
SHARD0 = "shardId-000000000000"
# Short enough to wait out, long enough for a fresh iterator to be used under a loaded machine.
ITERATOR_TTL_MS = int(harness.scaled(1500))


def assert_error(test, code, fn, status=400, **kw):
    """fn(**kw) fails with Kinesis error `code`, HTTP `status` and a message."""
    with test.assertRaises(ClientError) as cm:
        fn(**kw)
    err = cm.exception.response
    test.assertEqual(err["Error"]["Code"], code, err)
    test.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], status, err)
    test.assertTrue(err["Error"].get("Message"), f"{code} without a message: {err}")


class BadInputTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Client-side validation off so that out-of-range values reach the server.
        cls.bad = cls.server.boto3_client(validate=False)
        cls.client.create_stream(StreamName=STREAM, ShardCount=2)
        wait_stream_active(cls.client, STREAM)
        # Partition keys whose MD5 falls in the lower / upper half: shard 0 / shard 1.
        keys = [f"key{i}" for i in range(64)]
        low = next(k for k in keys if hashlib.md5(k.encode()).digest()[0] < 0x80)
        high = next(k for k in keys if hashlib.md5(k.encode()).digest()[0] >= 0x80)
        cls.seq0 = cls.client.put_record(StreamName=STREAM, Data=b"x",
                                         PartitionKey=low)["SequenceNumber"]
        cls.seq1 = cls.client.put_record(StreamName=STREAM, Data=b"y",
                                         PartitionKey=high)["SequenceNumber"]
        cls.low_key = low

    def tearDown(self):
        super().tearDown()
        # Still serving real requests, not just /health.
        r = self.client.describe_stream_summary(StreamName=STREAM)
        self.assertEqual(r["StreamDescriptionSummary"]["StreamStatus"], "ACTIVE")

    def assert_error(self, code, fn, status=400, **kw):
        assert_error(self, code, fn, status, **kw)

    def raw_post(self, body, target="Kinesis_20131202.ListStreams", content_type=None):
        """POST / with an arbitrary body; returns (status, parsed JSON error body)."""
        req = urllib.request.Request(self.server.endpoint + "/", data=body, method="POST")
        req.add_header("X-Amz-Target", target)
        req.add_header("Content-Type", content_type or harness.CONTENT_TYPE)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, {"__type": None, "unparsed body": raw[:200]}

    def iterator(self, kind="TRIM_HORIZON", **kw):
        return self.client.get_shard_iterator(StreamName=STREAM, ShardId=SHARD0,
                                              ShardIteratorType=kind, **kw)["ShardIterator"]

    # ---- resources -----------------------------------------------------------------------

    def test_unknown_stream_is_resource_not_found(self):
        for fn, kw in ((self.bad.describe_stream, {}), (self.bad.describe_stream_summary, {}),
                       (self.bad.list_shards, {}), (self.bad.delete_stream, {}),
                       (self.bad.put_record, {"Data": b"x", "PartitionKey": "k"}),
                       (self.bad.put_records, {"Records": [{"Data": b"x", "PartitionKey": "k"}]}),
                       (self.bad.get_shard_iterator, {"ShardId": SHARD0,
                                                      "ShardIteratorType": "TRIM_HORIZON"})):
            with self.subTest(op=fn.__name__):
                self.assert_error("ResourceNotFoundException", fn, StreamName="no-such", **kw)

    def test_unknown_shard_is_resource_not_found(self):
        self.assert_error("ResourceNotFoundException", self.bad.get_shard_iterator,
                          StreamName=STREAM, ShardId="shardId-000000000099",
                          ShardIteratorType="TRIM_HORIZON")

    def test_create_stream_with_an_existing_name_is_resource_in_use(self):
        self.assert_error("ResourceInUseException", self.bad.create_stream, StreamName=STREAM,
                          ShardCount=1)

    def test_shard_count_out_of_range_is_validation(self):
        # The model's range for ShardCount is 1 and up; above our store's range is refused by
        # the store, not by validation.
        for n in (0, -5):
            with self.subTest(shard_count=n):
                self.assert_error("ValidationException", self.bad.create_stream,
                                  StreamName=f"bad-count-{n}", ShardCount=n)
        status, err = self.raw_post(json.dumps({"StreamName": "bad-count", "ShardCount": 0})
                                    .encode(), "Kinesis_20131202.CreateStream")
        self.assertEqual((status, err["message"]), (400, (
            "1 validation error detected: Value '0' at 'shardCount' failed to satisfy "
            "constraint: Member must have value greater than or equal to 1")))
        with self.assertRaises(ClientError) as cm:
            self.bad.create_stream(StreamName="bad-count-big", ShardCount=100001)
        self.assertIn(cm.exception.response["Error"]["Code"],
                      ("LimitExceededException", "InvalidArgumentException"))
        self.assertNotIn("bad-count-big", self.client.list_streams()["StreamNames"])

    def test_shard_count_above_the_store_limit_is_limit_exceeded(self):
        # The default limit is 500 shards for all streams together; STREAM holds 2.
        self.assert_error("LimitExceededException", self.bad.create_stream,
                          StreamName="too-many", ShardCount=501)
        self.assert_error("LimitExceededException", self.bad.create_stream,
                          StreamName="too-many", ShardCount=499)
        self.assertNotIn("too-many", self.client.list_streams()["StreamNames"])

    def test_invalid_stream_name_is_validation(self):
        for name in ("", "has space", "x" * 129):
            with self.subTest(name=name):
                self.assert_error("ValidationException", self.bad.create_stream,
                                  StreamName=name, ShardCount=1)

    # ---- records -------------------------------------------------------------------------

    def test_record_data_of_exactly_1_mib_is_accepted_and_one_byte_more_is_validation(self):
        data = bytes(random.Random(1).randbytes(1 << 20))
        seq = self.client.put_record(StreamName=STREAM, Data=data,
                                     PartitionKey=self.low_key)["SequenceNumber"]
        got = self.client.get_records(ShardIterator=self.iterator(
            "AT_SEQUENCE_NUMBER", StartingSequenceNumber=seq), Limit=1)["Records"][0]
        self.assertEqual(got["Data"], data)
        self.assert_error("ValidationException", self.bad.put_record, StreamName=STREAM,
                          Data=data + b"!", PartitionKey="k")
        self.assert_error("ValidationException", self.bad.put_records, StreamName=STREAM,
                          Records=[{"Data": b"ok", "PartitionKey": "k"},
                                   {"Data": data + b"!", "PartitionKey": "k"}])

    def test_put_records_with_501_records_is_validation_and_500_is_accepted(self):
        recs = [{"Data": b"r%d" % i, "PartitionKey": str(i)} for i in range(501)]
        self.assert_error("ValidationException", self.bad.put_records, StreamName=STREAM,
                          Records=recs)
        r = self.client.put_records(StreamName=STREAM, Records=recs[:500])
        self.assertEqual(r["FailedRecordCount"], 0)
        self.assertEqual(len(r["Records"]), 500)

    def test_put_records_with_no_records_is_validation(self):
        self.assert_error("ValidationException", self.bad.put_records, StreamName=STREAM,
                          Records=[])

    def test_partition_key_of_257_chars_is_validation_and_256_is_accepted(self):
        self.client.put_record(StreamName=STREAM, Data=b"x", PartitionKey="k" * 256)
        self.assert_error("ValidationException", self.bad.put_record, StreamName=STREAM,
                          Data=b"x", PartitionKey="k" * 257)
        self.assert_error("ValidationException", self.bad.put_record, StreamName=STREAM,
                          Data=b"x", PartitionKey="")
        self.assert_error("ValidationException", self.bad.put_records, StreamName=STREAM,
                          Records=[{"Data": b"x", "PartitionKey": "k" * 257}])

    def test_malformed_explicit_hash_key_is_invalid_argument(self):
        for ehk in (str(2**128), "-1", "12a", "01"):
            with self.subTest(ehk=ehk):
                with self.assertRaises(ClientError) as cm:
                    self.bad.put_record(StreamName=STREAM, Data=b"x", PartitionKey="k",
                                        ExplicitHashKey=ehk)
                self.assertIn(cm.exception.response["Error"]["Code"],
                              ("InvalidArgumentException", "ValidationException"))
                self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"],
                                 400)

    # ---- iterators -----------------------------------------------------------------------

    def test_garbled_and_tampered_iterators_are_invalid_argument(self):
        real = self.iterator()
        flipped = real[:len(real) // 2] + ("A" if real[len(real) // 2] != "A" else "B") + \
            real[len(real) // 2 + 1:]
        for it in ("not-an-iterator", "A" * 300, flipped, real[:-4], "\u00e9\u00e9\u00e9"):
            with self.subTest(iterator=it[:40]):
                self.assert_error("InvalidArgumentException", self.bad.get_records,
                                  ShardIterator=it)

    def test_malformed_or_foreign_sequence_number_is_invalid_argument(self):
        # Kinesis's pattern 0|([1-9]\d{0,128}) holds for these; they are not ours (DESIGN.md).
        for seq in ("0", "1" * 41, "9" * 40, self.seq1):  # seq1 lives in the other shard
            with self.subTest(seq=seq[:20]):
                self.assert_error("InvalidArgumentException", self.bad.get_shard_iterator,
                                  StreamName=STREAM, ShardId=SHARD0,
                                  ShardIteratorType="AT_SEQUENCE_NUMBER",
                                  StartingSequenceNumber=seq)
        # These break the pattern itself: AWS answers ValidationException, DESIGN.md says
        # InvalidArgumentException; either is a clear 400.
        for seq in ("abc", "0123", "1" * 130):
            with self.subTest(seq=seq[:20]):
                with self.assertRaises(ClientError) as cm:
                    self.bad.get_shard_iterator(StreamName=STREAM, ShardId=SHARD0,
                                                ShardIteratorType="AT_SEQUENCE_NUMBER",
                                                StartingSequenceNumber=seq)
                self.assertIn(cm.exception.response["Error"]["Code"],
                              ("InvalidArgumentException", "ValidationException"))
                self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"],
                                 400)

    def test_unknown_iterator_type_or_missing_starting_point_is_rejected(self):
        self.assert_error("ValidationException", self.bad.get_shard_iterator, StreamName=STREAM,
                          ShardId=SHARD0, ShardIteratorType="SIDEWAYS")
        self.assert_error("InvalidArgumentException", self.bad.get_shard_iterator,
                          StreamName=STREAM, ShardId=SHARD0,
                          ShardIteratorType="AT_SEQUENCE_NUMBER")

    def test_get_records_limit_out_of_range_is_validation(self):
        it = self.iterator()
        for limit in (0, 10001):
            with self.subTest(limit=limit):
                self.assert_error("ValidationException", self.bad.get_records,
                                  ShardIterator=it, Limit=limit)

    # ---- protocol ------------------------------------------------------------------------

    def test_malformed_json_body_is_serialization_exception(self):
        for body in (b"{not json", b"[1,2", b"\xff\xfe\x00", b'{"StreamName": 5}'):
            with self.subTest(body=body):
                status, err = self.raw_post(body, "Kinesis_20131202.DescribeStream")
                self.assertEqual(status, 400, err)
                self.assertEqual(err["__type"], "SerializationException", err)
                # Coral names it "Message" in a SerializationException.
                self.assertTrue(err.get("message") or err.get("Message"), err)
        status, err = self.raw_post(b'{"StreamName": 5}', "Kinesis_20131202.DescribeStream")
        self.assertEqual(err, {"__type": "SerializationException",
                               "Message": "class com.amazon.coral.value.json.numbers."
                                          "TruncatingBigNumber can not be converted to an String"})

    def test_million_deep_nesting_is_400_and_the_server_lives(self):
        # Record operations take 8 MiB bodies; the others 64 KiB (over it: 413), so they get as
        # deep as fits.
        def bodies(depth):
            return (b"[" * depth + b"]" * depth, b'{"StreamName":' + b"[" * depth)
        for target, depth in (("PutRecord", 1_000_000), ("PutRecords", 1_000_000),
                              ("ListStreams", 30_000), ("CreateStream", 30_000)):
            for body in bodies(depth):
                with self.subTest(target=target, body=body[:16]):
                    status, err = self.raw_post(body, "Kinesis_20131202." + target)
                    self.assertEqual(status, 400, err)
                    self.assertEqual(err["__type"], "SerializationException", err)
                    self.assertIn("nested deeper than", err["Message"])
        self.assertTrue(self.server.alive(), self.server.log_tail())
        self.assertEqual(self.server.health_status(), 200)
        self.assertIn(STREAM, self.client.list_streams()["StreamNames"])

    def test_empty_body_is_serialization_exception(self):
        for target in ("ListStreams", "PutRecord", "DescribeStream"):
            with self.subTest(target=target):
                status, err = self.raw_post(b"", "Kinesis_20131202." + target)
                self.assertEqual(status, 400, err)
                self.assertEqual(err["__type"], "SerializationException", err)

    def test_invalid_utf8_never_reaches_the_shard_and_readers_keep_working(self):
        before = self.client.get_records(ShardIterator=self.iterator(), Limit=10000)
        for key in (b'"pk\xff"', b'"\\uDC00"', b'"\xc0\xaf"', b'"\xed\xa0\x80"'):
            body = (b'{"StreamName":"' + STREAM.encode() + b'","Data":"eA==","PartitionKey":'
                    + key + b"}")
            with self.subTest(key=key):
                status, err = self.raw_post(body, "Kinesis_20131202.PutRecord")
                self.assertEqual(status, 400, err)
                self.assertEqual(err["__type"], "SerializationException", err)
        # Every reader of the shard still decodes what get_records returns.
        after = self.client.get_records(ShardIterator=self.iterator(), Limit=10000)
        self.assertEqual(len(after["Records"]), len(before["Records"]))

    def test_error_bodies_are_valid_json_even_when_echoing_invalid_bytes(self):
        # http.client sends header text as Latin-1: these are the raw bytes FF FE.
        status, err = self.raw_post(b"{}", "Kinesis_20131202.\xff\xfeNope")
        self.assertEqual(status, 400, err)
        self.assertEqual(err["__type"], "UnknownOperationException", err)
        self.assertIn("\ufffd", err["message"])

    def test_bad_base64_data_is_serialization_exception(self):
        status, err = self.raw_post(json.dumps({"StreamName": STREAM, "PartitionKey": "k",
                                                "Data": "!!!not base64!!!"}).encode(),
                                    "Kinesis_20131202.PutRecord")
        self.assertEqual(status, 400, err)
        self.assertEqual(err["__type"], "SerializationException", err)
        self.assertEqual(err["Message"], "'!!!not base64!!!' can not be converted to a Blob: "
                                         "Invalid Base64 character: '!'")

    def test_unknown_target_is_unknown_operation(self):
        for target in ("Kinesis_20131202.DoSomethingElse", "Nope.ListStreams", ""):
            with self.subTest(target=target):
                status, err = self.raw_post(b"{}", target)
                self.assertEqual(status, 400, err)
                self.assertEqual(err["__type"], "UnknownOperationException", err)

    def test_oversized_http_body_is_413(self):
        size = 9 << 20  # above the 8 MiB default body limit
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        try:
            s.sendall(("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       "X-Amz-Target: Kinesis_20131202.PutRecords\r\n"
                       f"Content-Type: {harness.CONTENT_TYPE}\r\n"
                       f"Content-Length: {size}\r\n\r\n").encode())
            chunk, sent = b"x" * 65536, 0
            # A server that rejects on Content-Length answers right after the headers: wait for
            # that (select returns as soon as it does) before sending a body it would reset.
            answered = select.select([s], [], [], 1.0)[0]
            # Otherwise send the body until the server answers.
            while not answered and sent < size and not select.select([s], [], [], 0)[0]:
                try:
                    s.sendall(chunk)
                except OSError:  # the server closed the connection after answering
                    break
                sent += len(chunk)
            head = self._read_http_response(s)
        finally:
            s.close()
        self.assertTrue(head.startswith(b"HTTP/1.1 413"), head[:200])

    @staticmethod
    def _read_http_response(s):
        data, deadline = b"", time.monotonic() + 10
        while b"\r\n\r\n" not in data and time.monotonic() < deadline:
            try:
                part = s.recv(65536)
            except OSError:
                break
            if not part:
                break
            data += part
        return data

    def test_garbage_on_a_raw_socket_does_not_kill_the_server(self):
        rng = random.Random(7)
        payloads = [rng.randbytes(4096), b"GARBAGE\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                    b"POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                    b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
                    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                    b"POST / HTTP/1.1\r\nX-Amz-Target: Kinesis_20131202.PutRecords\r\n"
                    b"Content-Length: 100\r\n\r\n{\"half\":",  # then hang up mid-body
                    b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\n\r\n"]
        for p in payloads:
            with socket.create_connection(("127.0.0.1", self.server.port), timeout=5) as s:
                try:
                    s.sendall(p)
                    s.shutdown(socket.SHUT_WR)
                    self._read_http_response(s)
                except OSError:
                    pass  # the server may reset a garbage connection; it must not die
            self.assertTrue(self.server.alive(), f"died on {p[:40]!r}\n{self.server.log_tail()}")
        self.assertEqual(self.server.health_status(), 200)

    def test_error_bodies_are_kinesis_shaped_json(self):
        status, err = self.raw_post(json.dumps({"StreamName": "no-such"}).encode(),
                                    "Kinesis_20131202.DescribeStream")
        self.assertEqual(status, 400)
        self.assertEqual(set(err), {"__type", "message"}, err)
        self.assertEqual(err["__type"], "ResourceNotFoundException")


class IteratorExpiryTest(ServerTestCase):
    """Needs `tideline serve --iterator-ttl-ms N` (a test knob for ServerOptions::iterator_ttl)."""

    extra_args = ["--iterator-ttl-ms", str(ITERATOR_TTL_MS)]

    def test_expired_iterator_is_expired_iterator_exception(self):
        self.client.create_stream(StreamName="ttl", ShardCount=1)
        wait_stream_active(self.client, "ttl")
        seq = self.client.put_record(StreamName="ttl", Data=b"x",
                                     PartitionKey="k")["SequenceNumber"]
        it = self.client.get_shard_iterator(StreamName="ttl", ShardId=SHARD0,
                                            ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        r = self.client.get_records(ShardIterator=it)  # fresh: works
        last_issued = time.time()  # NextShardIterator was issued before this
        self.assertEqual(r["Records"][0]["SequenceNumber"], seq)
        # Wall-clock time must pass for expiry; this waits for the clock, not for the server.
        harness.wait_clock_past(last_issued + ITERATOR_TTL_MS / 1000 + 0.2)
        for stale in (it, r["NextShardIterator"]):
            assert_error(self, "ExpiredIteratorException", self.client.get_records,
                         ShardIterator=stale)


if __name__ == "__main__":
    harness.main()
