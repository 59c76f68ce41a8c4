#!/usr/bin/env python3
"""The Kinesis API in CBOR (Content-Type application/x-amz-cbor-1.1), as the AWS SDKs for Java
speak it: requests encoded by a real CBOR library (cbor2), blobs as byte strings, timestamps as
tag 1 over epoch milliseconds; every answer is decoded and compared with the JSON 1.1 answer of
the same operation. Run: python3 test_cbor.py --tideline build/cli/tideline"""

import http.client
import os
import sys
import time
import unittest

import harness
from harness import RawKinesis, ServerTestCase, unb64, wait_clock_past, wait_stream_active


def _import_cbor2():
    """cbor2 from Debian's python3-cbor2 (scripts/setup) when this python has none of its own:
    only that module is taken from the system's dist-packages."""
    try:
        import cbor2
        return cbor2
    except ImportError:
        pass
    system = "/usr/lib/python3/dist-packages"
    sys.path.append(system)
    try:
        import cbor2
        import cbor2.decoder
        return cbor2
    except ImportError as e:
        raise SystemExit(f"FATAL: cbor2 is required (apt-get install python3-cbor2): {e}")
    finally:
        sys.path.remove(system)


cbor2 = _import_cbor2()
import cbor2.decoder  # noqa: E402  (the pure-Python decoder, for its tag table)

# AWS's CBOR protocol puts epoch MILLISECONDS under tag 1 (RFC 8949 says seconds), so the SDKs
# read tag 1 raw; cbor2's own tag-1 decoder would turn 1.7e12 "seconds" into a year out of
# range. Keep tag 1 as a CBORTag, as the SDKs' Jackson parser does.
cbor2.decoder.semantic_decoders[1] = lambda dec: cbor2.CBORTag(1, dec._decode())

CBOR_TYPE = "application/x-amz-cbor-1.1"
SHARD0 = "shardId-000000000000"
# Timestamp members of the outputs exercised here (server/src/cbor_shapes.inc).
TIMESTAMP_KEYS = {"ApproximateArrivalTimestamp", "StreamCreationTimestamp", "StartedAt",
                  "EarliestAllowedEndAt", "EndedAt"}


def loads(data):
    return cbor2.decoder.loads(data)


class CborKinesis:
    """A Kinesis client speaking CBOR over one keep-alive connection."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def close(self):
        self.conn.close()

    def raw(self, operation, payload, content_type=CBOR_TYPE):
        """(status, headers, body bytes) of one request with `payload` as the body."""
        self.conn.request("POST", "/", body=payload, headers={
            "X-Amz-Target": harness.TARGET_PREFIX + operation, "Content-Type": content_type})
        resp = self.conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()

    def call(self, operation, body):
        """(status, headers, decoded answer); the answer must be CBOR."""
        status, headers, data = self.raw(operation, cbor2.dumps(body))
        if headers.get("content-type") != CBOR_TYPE:
            raise AssertionError(f"{operation}: answered as {headers.get('content-type')}: {data}")
        return status, headers, loads(data)

    def ok(self, operation, body):
        status, _, answer = self.call(operation, body)
        if status != 200:
            raise AssertionError(f"{operation}: HTTP {status}: {answer}")
        return answer


def from_cbor(value):
    """A CBOR answer in comparable form: tag-1 timestamps as integer milliseconds (which must
    be integers, as the SDKs parse them), byte strings as bytes."""
    if isinstance(value, cbor2.CBORTag):
        assert value.tag == 1 and isinstance(value.value, int), value
        return ("ms", value.value)
    if isinstance(value, dict):
        return {k: from_cbor(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_cbor(v) for v in value]
    return value


def from_json(value, key=None):
    """The JSON answer in the same form: epoch seconds to milliseconds, base64 Data to bytes."""
    if isinstance(value, dict):
        return {k: from_json(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    if key in TIMESTAMP_KEYS:
        return ("ms", round(value * 1000))
    if key == "Data":
        return unb64(value)
    return value


class CborApiTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cbor = CborKinesis(cls.server.port)
        cls.json = RawKinesis("127.0.0.1", cls.server.port)
        for name, shards in (("cbor-two", 2), ("cbor-one", 1)):
            cls.cbor.ok("CreateStream", {"StreamName": name, "ShardCount": shards})
            wait_stream_active(cls.client, name)

    @classmethod
    def tearDownClass(cls):
        cls.cbor.close()
        cls.json.close()
        super().tearDownClass()

    def both(self, operation, cbor_body, json_body=None):
        """The same operation in CBOR and in JSON, each in comparable form."""
        c = from_cbor(self.cbor.ok(operation, cbor_body))
        status, j = self.json.call(operation, cbor_body if json_body is None else json_body)
        self.assertEqual(status, 200, j)
        return c, from_json(j)

    def test_create_answers_an_empty_map_and_describe_matches_json(self):
        status, headers, data = self.cbor.raw(
            "CreateStream", cbor2.dumps({"StreamName": "cbor-new", "ShardCount": 1}))
        self.assertEqual((status, headers["content-type"], data), (200, CBOR_TYPE, b"\xa0"))
        for op in ("DescribeStream", "DescribeStreamSummary"):
            c, j = self.both(op, {"StreamName": "cbor-two"})
            self.assertEqual(c, j, op)
        summary = self.cbor.ok("DescribeStreamSummary", {"StreamName": "cbor-two"})
        created = summary["StreamDescriptionSummary"]["StreamCreationTimestamp"]
        self.assertEqual(created.tag, 1)
        self.assertLess(abs(created.value - time.time() * 1000), 600_000, created)

    def test_account_settings_carry_tag_one_timestamps(self):
        answer = self.cbor.ok("UpdateAccountSettings",
                              {"MinimumThroughputBillingCommitment": {"Status": "ENABLED"}})
        commitment = from_cbor(answer)["MinimumThroughputBillingCommitment"]
        self.assertEqual(commitment["Status"], "ENABLED")
        kind, started = commitment["StartedAt"]
        self.assertEqual(kind, "ms")
        self.assertEqual(commitment["EarliestAllowedEndAt"], ("ms", started + 24 * 3600 * 1000))
        c, j = self.both("DescribeAccountSettings", {})
        self.assertEqual(c, j)
        self.assertEqual(c["MinimumThroughputBillingCommitment"]["StartedAt"], ("ms", started))
        # An operation whose output is empty answers an empty map.
        status, headers, data = self.cbor.raw("UpdateMaxRecordSize", cbor2.dumps(
            {"StreamARN": "arn:aws:kinesis:us-east-1:123456789012:stream/cbor-one",
             "MaxRecordSizeInKiB": 1024}))
        self.assertEqual((status, headers["content-type"], data), (200, CBOR_TYPE, b"\xa0"))

    def test_list_shards_and_list_streams_match_json(self):
        c, j = self.both("ListShards", {"StreamName": "cbor-two"})
        self.assertEqual(c, j)
        self.assertEqual([s["ShardId"] for s in c["Shards"]], [SHARD0, "shardId-000000000001"])
        c, j = self.both("ListStreams", {})
        self.assertEqual(c, j)
        self.assertIn("cbor-two", c["StreamNames"])

    def test_put_record_put_records_and_get_records_carry_bytes(self):
        every_byte = bytes(range(256))
        before_ms = int(time.time() * 1000)
        one = self.cbor.ok("PutRecord", {"StreamName": "cbor-one", "PartitionKey": "k",
                                         "Data": every_byte})
        self.assertEqual(one["ShardId"], SHARD0)
        batch = [{"Data": bytes([i % 256]) * (i % 7) + b"\x00\xff", "PartitionKey": f"p{i}"}
                 for i in range(500)]
        put = self.cbor.ok("PutRecords", {"StreamName": "cbor-one", "Records": batch})
        self.assertEqual(put["FailedRecordCount"], 0)
        self.assertEqual(len(put["Records"]), 500)
        after_ms = int(time.time() * 1000) + 1
        it = self.cbor.ok("GetShardIterator", {"StreamName": "cbor-one", "ShardId": SHARD0,
                                               "ShardIteratorType": "AT_SEQUENCE_NUMBER",
                                               "StartingSequenceNumber": one["SequenceNumber"]})
        c, j = self.both("GetRecords", {"ShardIterator": it["ShardIterator"], "Limit": 501})
        # The next iterator differs per call; everything else is the same answer.
        c.pop("NextShardIterator")
        j.pop("NextShardIterator")
        self.assertEqual(c, j)
        records = c["Records"]
        self.assertEqual([r["Data"] for r in records], [every_byte] + [b["Data"] for b in batch])
        self.assertEqual(records[1]["SequenceNumber"], put["Records"][0]["SequenceNumber"])
        for r in records:
            _, ms = r["ApproximateArrivalTimestamp"]
            self.assertTrue(before_ms - 1000 <= ms <= after_ms, (ms, before_ms, after_ms))

    def test_get_shard_iterator_at_timestamp_reads_tag_one_as_milliseconds(self):
        first = self.cbor.ok("PutRecord", {"StreamName": "cbor-one", "PartitionKey": "t",
                                           "Data": b"first"})
        wait_clock_past(time.time() + 0.01)  # the second record arrives in a later millisecond
        second = self.cbor.ok("PutRecord", {"StreamName": "cbor-one", "PartitionKey": "t",
                                            "Data": b"second"})
        it = self.cbor.ok("GetShardIterator", {"StreamName": "cbor-one", "ShardId": SHARD0,
                                               "ShardIteratorType": "AT_SEQUENCE_NUMBER",
                                               "StartingSequenceNumber": second["SequenceNumber"]})
        got = self.cbor.ok("GetRecords", {"ShardIterator": it["ShardIterator"], "Limit": 1})
        second_ms = got["Records"][0]["ApproximateArrivalTimestamp"].value
        self.assertNotEqual(first["SequenceNumber"], second["SequenceNumber"])

        at = {"StreamName": "cbor-one", "ShardId": SHARD0, "ShardIteratorType": "AT_TIMESTAMP"}
        cbor_it = self.cbor.ok("GetShardIterator", dict(at, Timestamp=cbor2.CBORTag(1, second_ms)))
        status, json_it = self.json.call("GetShardIterator", dict(at, Timestamp=second_ms / 1000))
        self.assertEqual(status, 200, json_it)
        for iterator in (cbor_it["ShardIterator"], json_it["ShardIterator"]):
            got = self.cbor.ok("GetRecords", {"ShardIterator": iterator, "Limit": 1})
            self.assertEqual([r["Data"] for r in got["Records"]], [b"second"])
            self.assertEqual(got["Records"][0]["SequenceNumber"], second["SequenceNumber"])

    def assert_same_error(self, operation, body, code):
        status, headers, answer = self.call_error(operation, body)
        j_status, j = self.json.call(operation, body)
        self.assertEqual((status, answer["__type"]), (j_status, j["__type"]))
        self.assertEqual(answer["__type"], code)
        self.assertEqual(headers.get("x-amzn-errortype"), code)
        self.assertEqual(answer["message"], j["message"])

    def call_error(self, operation, body):
        status, headers, answer = self.cbor.call(operation, body)
        self.assertEqual(status, 400, answer)
        self.assertEqual(set(answer), {"__type", "message"})
        return status, headers, answer

    def test_errors_are_cbor_maps_with_the_json_protocols_type_and_message(self):
        self.assert_same_error("DescribeStream", {"StreamName": "missing"},
                               "ResourceNotFoundException")
        self.assert_same_error("CreateStream", {"StreamName": "cbor-two", "ShardCount": 1},
                               "ResourceInUseException")
        self.assert_same_error("PutRecord", {"StreamName": "cbor-one", "Data": "eA=="},
                               "ValidationException")
        self.assert_same_error("GetShardIterator",
                               {"StreamName": "cbor-one", "ShardId": SHARD0,
                                "ShardIteratorType": "AT_TIMESTAMP"}, "InvalidArgumentException")

    def test_bad_cbor_is_a_serialization_exception_in_cbor(self):
        for payload in (b"", b"\xbf", b"\xa1\x01\x02", b"\x9f" * 5000, b"\x5b" + b"\xff" * 8,
                        cbor2.dumps({"StreamName": "x"}) + b"\x00",
                        b'{"StreamName":"cbor-one"}'):
            status, headers, data = self.cbor.raw("DescribeStream", payload)
            self.assertEqual((status, headers["content-type"]), (400, CBOR_TYPE), payload)
            answer = loads(data)
            self.assertEqual(answer["__type"], "SerializationException", payload)
            self.assertEqual(headers["x-amzn-errortype"], "SerializationException")
        # Unchanged JSON callers beside it.
        status, j = self.json.call("DescribeStreamSummary", {"StreamName": "cbor-one"})
        self.assertEqual(status, 200, j)


if __name__ == "__main__":
    harness.main()
