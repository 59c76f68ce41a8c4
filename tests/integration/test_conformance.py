#!/usr/bin/env python3
"""Request validation conformance, generated from botocore's Kinesis service model at test time:
every operation of the model gets raw JSON 1.1 requests (not through boto3, which validates on
the client) with missing required members, wrong JSON types at every level, out-of-range
values, bad enum values and pattern violations, and must answer exactly as AWS does (__type,
HTTP 400, message form). Run: python3 test_conformance.py --tideline build/cli/tideline"""

import gzip
import json
import os
import re

import harness
from harness import ServerTestCase

NUMBER = "class com.amazon.coral.value.json.numbers.TruncatingBigNumber"
LIST_FOUND = "Start of list found where not expected"
STRUCT_FOUND = "Start of structure or map found where not expected."
COUNT_PREFIX = re.compile(r"^(\d+) validation errors? detected: ")


def load_model():
    path = os.path.join(os.path.dirname(harness.botocore.__file__), "data", "kinesis",
                        "2013-12-02", "service-2.json.gz")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return json.load(f)


MODEL = load_model()
SHAPES = MODEL["shapes"]


def lower_first(name):
    return name[:1].lower() + name[1:]


def wrong_values(shape):
    """(JSON value of the wrong type, the SerializationException message AWS sends)."""
    kind = shape["type"]
    if kind == "string":
        return [(True, "class java.lang.Boolean can not be converted to an String"),
                (12, NUMBER + " can not be converted to an String"),
                (3.5, NUMBER + " can not be converted to an String"),
                ([], LIST_FOUND), ({}, STRUCT_FOUND)]
    if kind in ("integer", "long"):
        java = "Integer" if kind == "integer" else "Long"
        return [("7", f"class java.lang.String can not be converted to an {java}"),
                (False, f"class java.lang.Boolean can not be converted to an {java}"),
                ([], LIST_FOUND), ({}, STRUCT_FOUND)]
    if kind == "boolean":
        return [(5, NUMBER + " can not be converted to an Boolean"),
                ("perhaps", "'PERHAPS' can not be converted to an Boolean"),
                ([], LIST_FOUND), ({}, STRUCT_FOUND)]
    if kind == "blob":
        return [(True, "class java.lang.Boolean can not be converted to a Blob"),
                (9, NUMBER + " can not be converted to a Blob"),
                ("abc", "'abc' can not be converted to a Blob: Base64 encoded length is expected "
                        "a multiple of 4 bytes but found: 3"),
                ("ab*=", "'ab*=' can not be converted to a Blob: Invalid Base64 character: '*'"),
                ([], LIST_FOUND), ({}, STRUCT_FOUND)]
    if kind == "timestamp":
        return [("yesterday", "class java.lang.String can not be converted to milliseconds since "
                              "epoch"),
                (True, "class java.lang.Boolean can not be converted to milliseconds since epoch"),
                ([], LIST_FOUND), ({}, STRUCT_FOUND)]
    if kind == "list":
        return [("x", "Expected list or null"), (4, "Expected list or null"),
                ({}, STRUCT_FOUND)]
    if kind == "map":
        return [("x", "Expected map or null"), ([], LIST_FOUND)]
    if kind == "structure":
        return [("x", "Expected null"), (4, "Expected null"), ([], LIST_FOUND)]
    raise AssertionError(f"unknown shape type {kind}")


def type_cases(shape_name, depth=0):
    """(request fragment, expected message) for a wrong type at each member, descending into
    structures and list entries."""
    shape = SHAPES[shape_name]
    cases = []
    for member, ref in sorted(shape.get("members", {}).items()):
        target = SHAPES[ref["shape"]]
        for value, message in wrong_values(target):
            cases.append(({member: value}, message))
        if depth >= 2:
            continue
        if target["type"] == "structure":
            for inner, message in type_cases(ref["shape"], depth + 1):
                cases.append(({member: inner}, message))
        if target["type"] == "list" and SHAPES[target["member"]["shape"]]["type"] == "structure":
            for inner, message in type_cases(target["member"]["shape"], depth + 1):
                cases.append(({member: [inner]}, message))
    return cases


def bad_value_cases(shape):
    """(value, constraint text AWS names) for each constraint the shape declares."""
    kind = shape["type"]
    cases = []
    if kind == "string":
        if "enum" in shape:
            cases.append(("NOT_A_VALUE", "Member must satisfy enum value set: [" +
                          ", ".join(shape["enum"]) + "]"))
        if "pattern" in shape:
            bad = "bad value!"[: max(shape.get("max", 10), 1)]
            cases.append((bad, "Member must satisfy regular expression pattern: " +
                          shape["pattern"]))
        if shape.get("max") is not None and shape["max"] <= 4096:
            cases.append(("a" * (shape["max"] + 1),
                          f"Member must have length less than or equal to {shape['max']}"))
        if shape.get("min", 0) > 0:
            cases.append(("", f"Member must have length greater than or equal to {shape['min']}"))
    elif kind in ("integer", "long"):
        if "min" in shape:
            cases.append((shape["min"] - 1,
                          f"Member must have value greater than or equal to {shape['min']}"))
        if "max" in shape:
            cases.append((shape["max"] + 1,
                          f"Member must have value less than or equal to {shape['max']}"))
    elif kind in ("list", "map"):
        if shape.get("min", 0) > 0:
            empty = [] if kind == "list" else {}
            shown = "[]" if kind == "list" else "{}"
            cases.append((empty, f"Member must have length greater than or equal to "
                                 f"{shape['min']}", shown))
    return [c if len(c) == 3 else (c[0], c[1], None) for c in cases]


def input_shape(operation):
    ref = MODEL["operations"][operation].get("input")
    return ref["shape"] if ref else None


class ConformanceTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.raw = cls.server.raw_client()

    @classmethod
    def tearDownClass(cls):
        cls.raw.close()
        super().tearDownClass()

    def call(self, operation, body):
        return self.raw.call(operation, body)

    def test_model_has_every_operation(self):
        self.assertGreaterEqual(len(MODEL["operations"]), 39)

    def test_missing_required_members_are_listed_in_name_order(self):
        checked = 0
        for operation in sorted(MODEL["operations"]):
            shape = input_shape(operation)
            required = sorted(SHAPES[shape].get("required", [])) if shape else []
            if not required:
                continue
            with self.subTest(operation=operation):
                status, body = self.call(operation, {})
                self.assertEqual(status, 400, body)
                self.assertEqual(body["__type"], "ValidationException", body)
                n = len(required)
                expected = (f"{n} validation error{'s' if n > 1 else ''} detected: " +
                            "; ".join(f"Value null at '{lower_first(m)}' failed to satisfy "
                                      "constraint: Member must not be null" for m in required))
                self.assertEqual(body["message"], expected)
                checked += 1
        self.assertGreater(checked, 20)

    def test_wrong_json_types_are_serialization_exceptions(self):
        checked = 0
        for operation in sorted(MODEL["operations"]):
            shape = input_shape(operation)
            if not shape:
                continue
            for request, message in type_cases(shape):
                with self.subTest(operation=operation, request=request):
                    status, body = self.call(operation, request)
                    self.assertEqual(status, 400, body)
                    self.assertEqual(body.get("__type"), "SerializationException", body)
                    self.assertEqual(body.get("Message"), message, body)
                    checked += 1
        self.assertGreater(checked, 500)

    def test_constraint_violations_name_the_member_and_constraint(self):
        checked = 0
        for operation in sorted(MODEL["operations"]):
            shape = input_shape(operation)
            if not shape:
                continue
            for member, ref in sorted(SHAPES[shape].get("members", {}).items()):
                for value, constraint, shown in bad_value_cases(SHAPES[ref["shape"]]):
                    with self.subTest(operation=operation, member=member, value=value):
                        status, body = self.call(operation, {member: value})
                        self.assertEqual(status, 400, body)
                        self.assertEqual(body.get("__type"), "ValidationException", body)
                        message = body["message"]
                        count = COUNT_PREFIX.match(message)
                        self.assertIsNotNone(count, message)
                        self.assertEqual(int(count.group(1)), message.count("; Value ") + 1)
                        quoted = shown if shown is not None else str(value)
                        self.assertIn(f"Value '{quoted}' at '{lower_first(member)}' failed to "
                                      f"satisfy constraint: {constraint}", message)
                        checked += 1
        self.assertGreater(checked, 100)

    def test_list_entries_are_validated_with_their_index(self):
        status, body = self.call("PutRecords", {
            "StreamName": "s", "Records": [{"Data": "", "PartitionKey": "k"}, {"Data": ""}]})
        self.assertEqual(status, 400)
        self.assertEqual(body, {
            "__type": "ValidationException",
            "message": "1 validation error detected: Value null at "
                       "'records.2.member.partitionKey' failed to satisfy constraint: Member "
                       "must not be null"})

    def test_unknown_members_are_ignored(self):
        status, body = self.call("ListStreams", {"NoSuchMember": {"x": [1, 2]}, "Limit": 5})
        self.assertEqual(status, 200, body)

    def test_subscribe_to_shard_is_validated_before_its_handler(self):
        status, body = self.call("SubscribeToShard", {"ShardId": "shardId-000000000000"})
        self.assertEqual(status, 400)
        self.assertEqual(body["__type"], "ValidationException", body)
        status, body = self.call("SubscribeToShard", {
            "ConsumerARN": "arn:aws:kinesis:us-east-1:123456789012:stream/s/consumer/c:1",
            "ShardId": "shardId-000000000000", "StartingPosition": {"Type": "LATEST"}})
        self.assertEqual(status, 400)
        self.assertEqual(body["__type"], "ResourceNotFoundException", body)

    def test_every_operation_of_the_model_is_served(self):
        for operation in sorted(MODEL["operations"]):
            with self.subTest(operation=operation):
                _, body = self.call(operation, {})
                self.assertNotEqual(body.get("__type"), "UnknownOperationException", body)


if __name__ == "__main__":
    harness.main()
