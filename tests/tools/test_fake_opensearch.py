#!/usr/bin/env python3
"""Self-test of tests/tools/fake_opensearch.py, run as `python3 tests/tools/test_fake_opensearch.py`.

Starts the fake as a subprocess (--port 0 --port-file, bounded polling for the file) and drives it
over http.client: OpenSearch response shapes, every fault, basic auth, TLS (a self-signed
certificate made with the `openssl` command; a missing openssl is a failure, never a skip), the
control API and robustness against bad input. Exits non-zero on any failure. Every subprocess is
terminated in tearDown/tearDownClass, and killed at exit if a test left one behind.
"""

import atexit
import base64
import gzip
import http.client
import json
import os
import selectors
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

FAKE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_opensearch.py")
STARTUP_DEADLINE_S = 15.0
STOP_DEADLINE_S = 15.0
SHARDS = {"total": 2, "successful": 1, "failed": 0}

_started = []


@atexit.register
def _kill_leftovers():
    for proc in _started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


class FakeProcess:
    """One fake_opensearch.py subprocess on a kernel-picked port."""

    def __init__(self, *args):
        self.workdir = tempfile.mkdtemp(prefix="fake-opensearch-test-")
        port_file = os.path.join(self.workdir, "port")
        self.proc = subprocess.Popen(
            [sys.executable, FAKE, "--port", "0", "--port-file", port_file, *args],
            stdout=subprocess.PIPE)
        _started.append(self.proc)
        deadline = time.monotonic() + STARTUP_DEADLINE_S
        self.port = self._wait_for_port_file(port_file, deadline)
        self.banner = self._read_banner(deadline)

    def _wait_for_port_file(self, port_file, deadline):
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the fake exited with {self.proc.returncode} at startup")
            try:
                with open(port_file) as f:
                    return int(f.read())
            except FileNotFoundError:
                time.sleep(0.02)
        raise AssertionError(f"no port file within {STARTUP_DEADLINE_S} s")

    def _read_banner(self, deadline):
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            if not selector.select(max(0.0, deadline - time.monotonic())):
                raise AssertionError("the fake printed nothing on stdout")
        return self.proc.stdout.readline().decode().strip()

    def connect(self, timeout=10):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def stop(self, signum=signal.SIGTERM):
        """Signals the fake, waits for it and returns its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        try:
            return self.proc.wait(timeout=STOP_DEADLINE_S)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
            shutil.rmtree(self.workdir, ignore_errors=True)


def call(conn, method, path, body=None, headers=None):
    """(response, body bytes) of one request on a keep-alive connection."""
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    return response, response.read()


def call_json(conn, method, path, body=None, headers=None):
    response, data = call(conn, method, path, body, headers)
    return response.status, json.loads(data)


def ndjson(*lines):
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def ok(action, index, doc_id, version, result, seq_no, status, shards=SHARDS):
    return {action: {"_index": index, "_id": doc_id, "_version": version, "result": result,
                     "_shards": shards, "_seq_no": seq_no, "_primary_term": 1, "status": status}}


def error_of(body):
    """(type, reason) of a whole-request error body, checking its OpenSearch shape."""
    root = body["error"]["root_cause"][0]
    assert root["type"] == body["error"]["type"] and root["reason"] == body["error"]["reason"]
    return body["error"]["type"], body["error"]["reason"]


class FakeTestCase(unittest.TestCase):
    """Shares one fake between the tests of a class; each test starts from /_fake/reset."""

    fake_args = ()

    @classmethod
    def setUpClass(cls):
        cls.fake = FakeProcess(*cls.fake_args)

    @classmethod
    def tearDownClass(cls):
        status = cls.fake.stop()
        if status != 0:
            raise AssertionError(f"the fake exited with {status} on SIGTERM")

    def setUp(self):
        self.conn = self.fake.connect()
        self.control("POST", "/_fake/reset")

    def tearDown(self):
        self.conn.close()

    def control_raw(self, method, path, obj=None):
        """A /_fake/ call on its own connection (self.conn may have been dropped)."""
        conn = self.fake.connect()
        try:
            response, data = call(conn, method, path, None if obj is None else json.dumps(obj))
            self.assertEqual(response.status, 200, data)
            return data
        finally:
            conn.close()

    def control(self, method, path, obj=None):
        return json.loads(self.control_raw(method, path, obj))

    def faults(self, **faults):
        self.assertEqual(self.control("PUT", "/_fake/faults", faults)["down"],
                         faults.get("down", False))

    def stats(self):
        return self.control("GET", "/_fake/stats")

    def docs(self, index=None):
        data = self.control_raw("GET", "/_fake/docs" + ("" if index is None else f"?index={index}"))
        return [json.loads(line) for line in data.splitlines()]

    def bulk(self, body, path="/_bulk", headers=None):
        headers = {"Content-Type": "application/x-ndjson", **(headers or {})}
        return call_json(self.conn, "POST", path, body, headers)


class OpenSearchApiTest(FakeTestCase):

    def test_cluster_info(self):
        response, data = call(self.conn, "GET", "/")
        self.assertEqual(response.status, 200)
        self.assertEqual(response.getheader("content-type"), "application/json; charset=UTF-8")
        info = json.loads(data)
        self.assertEqual(info["version"]["number"], "2.11.1")
        self.assertEqual(info["version"]["distribution"], "opensearch")
        self.assertEqual(info["cluster_name"], "fake-opensearch")
        self.assertEqual(info["tagline"], "The OpenSearch Project: https://opensearch.org/")
        response, head_body = call(self.conn, "HEAD", "/")
        self.assertEqual(response.status, 200)
        self.assertEqual(head_body, b"")
        self.assertEqual(int(response.getheader("content-length")), len(data))

    def test_bulk_answers_every_action_in_request_order(self):
        status, body = self.bulk(ndjson(
            {"index": {"_index": "t", "_id": "1"}}, {"n": 1, "s": "a"},
            {"create": {"_index": "t", "_id": "2"}}, {"n": 2},
            {"update": {"_index": "t", "_id": "1"}}, {"doc": {"s": "b"}},
            {"delete": {"_index": "t", "_id": "2"}},
            {"delete": {"_index": "t", "_id": "never"}},
            {"index": {"_index": "t", "routing": "r", "pipeline": None}}, {"n": 3},
            {"update": {"_index": "t", "_id": "1"}}, {"doc": {"s": "b"}},
            {"update": {"_index": "t", "_id": "9"}}, {"doc": {"n": 9}, "doc_as_upsert": True},
            {"update": {"_index": "t", "_id": "8"}}, {"doc": {"n": 8}}))
        self.assertEqual(status, 200)
        self.assertIs(body["errors"], True)
        self.assertIsInstance(body["took"], int)
        auto_id = body["items"][5]["index"]["_id"]
        missing = body["items"][8]["update"]
        self.assertEqual(body["items"], [
            ok("index", "t", "1", 1, "created", 0, 201),
            ok("create", "t", "2", 1, "created", 1, 201),
            ok("update", "t", "1", 2, "updated", 2, 200),
            ok("delete", "t", "2", 2, "deleted", 3, 200),
            ok("delete", "t", "never", 1, "not_found", 4, 404),
            ok("index", "t", auto_id, 1, "created", 5, 201),
            ok("update", "t", "1", 2, "noop", 2, 200,
               {"total": 0, "successful": 0, "failed": 0}),
            ok("update", "t", "9", 1, "created", 6, 201),
            {"update": {"_index": "t", "_id": "8", "status": 404, "error": {
                "type": "document_missing_exception", "reason": "[8]: document missing",
                "index": "t", "shard": "0", "index_uuid": missing["error"]["index_uuid"]}}},
        ])
        status, doc = call_json(self.conn, "GET", "/t/_doc/1")
        self.assertEqual((status, doc["_version"], doc["_source"]), (200, 2, {"n": 1, "s": "b"}))
        self.assertEqual(call_json(self.conn, "GET", "/t/_count")[1]["count"], 3)
        self.assertEqual({d["_id"]: d["writes"] for d in self.docs()}, {"1": 2, auto_id: 1, "9": 1})

    def test_errors_is_false_when_every_item_succeeds(self):
        status, body = self.bulk(ndjson({"index": {"_index": "t", "_id": "a"}}, {"x": 1},
                                        {"delete": {"_index": "t", "_id": "zz"}}))
        self.assertEqual((status, body["errors"]), (200, False))

    def test_create_of_an_existing_id_conflicts(self):
        self.bulk(ndjson({"create": {"_index": "c", "_id": "1"}}, {"v": "first"}))
        status, body = self.bulk(ndjson({"create": {"_index": "c", "_id": "1"}}, {"v": "second"}))
        item = body["items"][0]["create"]
        self.assertEqual((status, body["errors"], item["status"]), (200, True, 409))
        self.assertEqual(item["error"], {
            "type": "version_conflict_engine_exception",
            "reason": "[1]: version conflict, document already exists (current version [1])",
            "index": "c", "shard": "0", "index_uuid": item["error"]["index_uuid"]})
        self.assertEqual(len(item["error"]["index_uuid"]), 22)
        self.assertEqual(self.docs("c")[0]["_source"], {"v": "first"})

    def test_auto_ids_are_unique_and_shaped_like_opensearch(self):
        lines = []
        for n in range(200):
            lines += [{"index": {"_index": "auto"}}, {"n": n}]
        status, body = self.bulk(ndjson(*lines))
        ids = [item["index"]["_id"] for item in body["items"]]
        self.assertEqual(len(set(ids)), 200)
        for doc_id in ids:
            self.assertRegex(doc_id, r"^[A-Za-z0-9_-]{20}$")
        docs = self.docs("auto")
        self.assertEqual([d["_id"] for d in docs], ids)
        self.assertEqual({d["writes"] for d in docs}, {1})

    def test_path_index_is_the_default_and_metadata_overrides_it(self):
        status, body = self.bulk(ndjson({"index": {"_id": "1"}}, {"a": 1},
                                        {"index": {"_index": "other", "_id": "1"}}, {"a": 2}),
                                 path="/dflt/_bulk")
        self.assertEqual([i["index"]["_index"] for i in body["items"]], ["dflt", "other"])

    def test_gzip_bodies_are_decompressed(self):
        payload = ndjson({"index": {"_index": "gz", "_id": "1"}}, {"zipped": True})
        status, body = self.bulk(gzip.compress(payload), headers={"Content-Encoding": "gzip"})
        self.assertEqual((status, body["errors"]), (200, False))
        self.assertEqual(self.docs("gz")[0]["_source"], {"zipped": True})
        self.assertEqual(self.stats()["gzip_requests"], 1)

    def test_whole_request_errors(self):
        cases = [
            (b'{"index":{"_index":"t"}}\n{"a":1}', "illegal_argument_exception",
             "The bulk request must be terminated by a newline [\\n]"),
            (b"", "parse_exception", "request body is required"),
            (b"\n", "action_request_validation_exception", "Validation Failed: 1: no requests added;"),
            (ndjson({"index": {}}, {"a": 1}, {"delete": {"_id": "x"}}),
             "action_request_validation_exception",
             "Validation Failed: 1: index is missing;2: index is missing;"),
            (ndjson({"delete": {"_index": "t"}}), "action_request_validation_exception",
             "Validation Failed: 1: id is missing;"),
            (ndjson([1]), "illegal_argument_exception",
             "Malformed action/metadata line [1], expected START_OBJECT but found [START_ARRAY]"),
            (ndjson({"index": {"_index": "t"}}, {}, {"upsert": {}}), "illegal_argument_exception",
             "Malformed action/metadata line [3], expected field [create], [delete], [index] or "
             "[update] but found [upsert]"),
            (ndjson({"index": {"_index": "t", "bogus": 1}}, {}), "illegal_argument_exception",
             "Action/metadata line [1] contains an unknown parameter [bogus]"),
            (ndjson({"index": {"_index": ["t"]}}, {}), "illegal_argument_exception",
             "Malformed action/metadata line [1], expected a simple value for field [_index] but "
             "found [START_ARRAY]"),
        ]
        for body, error_type, reason in cases:
            with self.subTest(body=body):
                status, answer = self.bulk(body)
                self.assertEqual((status, answer["status"]), (400, 400))
                self.assertEqual(error_of(answer), (error_type, reason))
        status, answer = self.bulk(b'{"index": nope}\n{}\n')
        self.assertEqual((status, error_of(answer)[0]), (400, "x_content_parse_exception"))
        status, answer = self.bulk(ndjson({"update": {"_index": "t", "_id": "1"}}, {"doc": 5}))
        self.assertEqual((status, error_of(answer)[0]), (400, "x_content_parse_exception"))
        self.assertEqual(self.stats()["documents"], 0)

    def test_an_unusable_source_fails_only_its_item(self):
        status, body = self.bulk(b'{"index":{"_index":"s","_id":"1"}}\n[1,2]\n'
                                 b'{"index":{"_index":"s","_id":"2"}}\nnot json\n'
                                 b'{"index":{"_index":"s","_id":"3"}}\r\n{"ok":true}\r\n')
        self.assertEqual(status, 200)
        self.assertEqual([i["index"]["status"] for i in body["items"]], [400, 400, 201])
        for item in body["items"][:2]:
            self.assertEqual(item["index"]["error"]["type"], "mapper_parsing_exception")
        self.assertEqual(self.docs(), [{"_index": "s", "_id": "3", "_source": {"ok": True},
                                        "writes": 1}])

    def test_invalid_index_names_fail_their_items(self):
        cases = {
            "Upper": "must be lowercase",
            "_under": "must not start with '_', '-', or '+'",
            "-dash": "must not start with '_', '-', or '+'",
            "a b": 'must not contain the following characters [ , ", *, \\, <, |, ,, >, /, ?]',
            "a#b": "must not contain '#'",
            "a:b": "must not contain ':'",
            "..": "must not be '.' or '..'",
            "x" * 256: "index name is too long, (256 > 255)",
        }
        lines = []
        for name in cases:
            lines += [{"index": {"_index": name, "_id": "1"}}, {"a": 1}]
        status, body = self.bulk(ndjson(*lines, {"index": {"_index": "fine", "_id": "1"}}, {"a": 1}))
        for (name, problem), item in zip(cases.items(), body["items"]):
            self.assertEqual(item["index"], {
                "_index": name, "_id": "1", "status": 400,
                "error": {"type": "invalid_index_name_exception",
                          "reason": f"Invalid index name [{name}], {problem}",
                          "index": name, "index_uuid": "_na_"}})
        self.assertEqual(body["items"][-1]["index"]["status"], 201)

    def test_dynamic_mapping_conflicts(self):
        self.bulk(ndjson({"index": {"_index": "m", "_id": "1"}},
                         {"n": 1, "f": 1.5, "b": True, "s": "x", "o": {"k": 1}}))
        status, body = self.bulk(ndjson(
            {"index": {"_index": "m", "_id": "2"}}, {"n": "abc"},
            {"index": {"_index": "m", "_id": "3"}}, {"n": "42", "f": "2.5", "s": 7, "b": "false"},
            {"index": {"_index": "m", "_id": "4"}}, {"b": "maybe"},
            {"index": {"_index": "m", "_id": "5"}}, {"o": "flat"},
            {"index": {"_index": "m", "_id": "6"}}, {"s": {"nested": 1}},
            {"index": {"_index": "m", "_id": "7"}}, {"n": [1, "x"]},
            {"index": {"_index": "m", "_id": "8"}}, {"brand_new": "z", "n": None}))
        statuses = [item["index"]["status"] for item in body["items"]]
        self.assertEqual(statuses, [400, 201, 400, 400, 400, 400, 201])
        self.assertEqual(body["items"][0]["index"]["error"], {
            "type": "mapper_parsing_exception",
            "reason": "failed to parse field [n] of type [long] in document with id '2'. "
                      "Preview of field's value: 'abc'",
            "caused_by": {"type": "illegal_argument_exception",
                          "reason": 'For input string: "abc"'}})
        self.assertEqual(body["items"][3]["index"]["error"]["reason"],
                         "object mapping for [o] tried to parse field [o] as object, but found a "
                         "concrete value")
        self.assertEqual(sorted(d["_id"] for d in self.docs("m")), ["1", "3", "8"])

    def test_document_count_refresh_cat_and_index_lifecycle(self):
        status, body = call_json(self.conn, "PUT", "/made", "{}")
        self.assertEqual((status, body), (200, {"acknowledged": True, "shards_acknowledged": True,
                                                "index": "made"}))
        status, body = call_json(self.conn, "PUT", "/made")
        self.assertEqual((status, error_of(body)[0]), (400, "resource_already_exists_exception"))
        status, body = call_json(self.conn, "PUT", "/Made")
        self.assertEqual((status, error_of(body)[0]), (400, "invalid_index_name_exception"))
        self.assertEqual(call(self.conn, "HEAD", "/made")[0].status, 200)
        self.assertEqual(call(self.conn, "HEAD", "/absent")[0].status, 404)
        self.bulk(ndjson({"index": {"_index": "made", "_id": "d"}}, {"k": "v"}))
        self.assertEqual(call_json(self.conn, "POST", "/made/_refresh")[1]["_shards"],
                         {"total": 2, "successful": 1, "failed": 0})
        self.assertEqual(call_json(self.conn, "POST", "/_refresh")[0], 200)
        self.assertEqual(call_json(self.conn, "GET", "/made/_count")[1]["count"], 1)
        status, rows = call_json(self.conn, "GET", "/_cat/indices?format=json")
        self.assertEqual([(r["index"], r["docs.count"]) for r in rows], [("made", "1")])
        status, body = call_json(self.conn, "GET", "/made/_doc/nope")
        self.assertEqual((status, body), (404, {"_index": "made", "_id": "nope", "found": False}))
        self.assertEqual(call_json(self.conn, "DELETE", "/made"), (200, {"acknowledged": True}))
        for method, path in (("DELETE", "/made"), ("GET", "/made/_count"),
                             ("GET", "/made/_doc/d"), ("POST", "/made/_refresh")):
            status, body = call_json(self.conn, method, path)
            self.assertEqual((status, error_of(body)[0]), (404, "index_not_found_exception"))

    def test_unknown_routes(self):
        status, body = call_json(self.conn, "GET", "/a/b/c/d")
        self.assertEqual((status, body),
                         (400, {"error": "no handler found for uri [/a/b/c/d] and method [GET]"}))
        status, body = call_json(self.conn, "GET", "/_bulk")
        self.assertEqual((status, body["status"]), (405, 405))
        self.assertEqual(call(self.conn, "GET", "/_fake/nothing")[0].status, 404)


class FaultTest(FakeTestCase):

    DOCS = ndjson({"index": {"_index": "f", "_id": "1"}}, {"a": 1},
                  {"index": {"_index": "f", "_id": "2"}}, {"a": 2},
                  {"create": {"_index": "f", "_id": "3"}}, {"a": 3})

    def assert_dropped(self, conn, body=DOCS):
        with self.assertRaises(ConnectionError):
            call(conn, "POST", "/_bulk", body, {"Content-Type": "application/x-ndjson"})

    def test_item_429(self):
        self.faults(item_429_rate=1.0)
        status, body = self.bulk(self.DOCS)
        self.assertEqual((status, body["errors"]), (200, True))
        for item in body["items"]:
            result = next(iter(item.values()))
            self.assertEqual(result["status"], 429)
            self.assertEqual(result["error"]["type"], "rejected_execution_exception")
            self.assertTrue(result["error"]["reason"].startswith(
                "rejected execution of coordinating operation"))
        stats = self.stats()
        self.assertEqual((stats["documents"], stats["faults"]["item_429"],
                          stats["items_by_status"]), (0, 3, {"429": 3}))

    def test_request_503_and_429(self):
        for fault, status, error_type in (("request_503_rate", 503, "cluster_block_exception"),
                                          ("request_429_rate", 429, "rejected_execution_exception")):
            with self.subTest(fault=fault):
                self.faults(**{fault: 1.0})
                answer_status, body = self.bulk(self.DOCS)
                self.assertEqual((answer_status, body["status"], error_of(body)[0]),
                                 (status, status, error_type))
        stats = self.stats()
        self.assertEqual((stats["documents"], stats["faults"]["request_503"],
                          stats["faults"]["request_429"]), (0, 1, 1))

    def test_drop_connection_applies_nothing(self):
        self.faults(drop_connection_rate=1.0)
        self.assert_dropped(self.conn)
        stats = self.stats()
        self.assertEqual((stats["documents"], stats["faults"]["drop_connection"]), (0, 1))

    def test_lost_ack_applies_everything(self):
        self.faults(lost_ack_rate=1.0)
        self.assert_dropped(self.conn)
        stats = self.stats()
        self.assertEqual((stats["documents"], stats["faults"]["lost_ack"]), (3, 1))

    def test_max_body_bytes_answers_413_and_keeps_the_connection(self):
        small = ndjson({"index": {"_index": "f", "_id": "s"}}, {"a": 0})
        big = ndjson({"index": {"_index": "f", "_id": "b"}}, {"text": "x" * 500})
        self.assertLess(len(gzip.compress(big)), 200)
        self.faults(max_body_bytes=200)
        response, data = call(self.conn, "POST", "/_bulk", big)
        self.assertEqual((response.status, data, response.getheader("content-length")),
                         (413, b"", "0"))
        self.assertEqual(self.bulk(small)[0], 200)  # same keep-alive connection
        status, body = self.bulk(gzip.compress(big), headers={"Content-Encoding": "gzip"})
        self.assertEqual((status, body["errors"]), (200, False))  # the wire size counts
        stats = self.stats()
        self.assertEqual((stats["documents"], stats["faults"]["too_large"]), (2, 1))

    def test_mapping_error_value_fails_on_every_attempt(self):
        self.faults(mapping_error_value="poison")
        body = ndjson({"index": {"_index": "f", "_id": "bad"}}, {"a": 1, "tag": "poison"},
                      {"index": {"_index": "f", "_id": "good"}}, {"a": 2, "tag": "fine"})
        for _ in range(2):
            status, answer = self.bulk(body)
            bad, good = (item["index"] for item in answer["items"])
            self.assertEqual((bad["status"], bad["error"]["type"]), (400, "mapper_parsing_exception"))
            self.assertIn("good", good["_id"])
            self.assertIn(good["status"], (200, 201))
        self.assertEqual([d["_id"] for d in self.docs()], ["good"])
        self.assertEqual(self.stats()["faults"]["mapping_error"], 2)

    def test_down_closes_every_opensearch_connection(self):
        self.faults(down=True)
        with self.assertRaises(ConnectionError):
            call(self.conn, "GET", "/")
        conn = self.fake.connect()
        self.assert_dropped(conn)
        conn.close()
        self.assertEqual(self.stats()["faults"]["down"], 2)
        self.faults()
        conn = self.fake.connect()
        self.assertEqual(call(conn, "GET", "/")[0].status, 200)
        conn.close()

    def test_latency_delays_bulk_answers(self):
        self.faults(latency_ms=300)
        started = time.monotonic()
        self.assertEqual(self.bulk(self.DOCS)[0], 200)
        self.assertGreaterEqual(time.monotonic() - started, 0.3)

    def test_fault_decisions_repeat_after_reset(self):
        lines = []
        for n in range(60):
            lines += [{"index": {"_index": "f", "_id": str(n)}}, {"a": n}]

        def statuses():
            self.faults(item_429_rate=0.5)
            return [item["index"]["status"] for item in self.bulk(ndjson(*lines))[1]["items"]]

        first = statuses()
        self.assertEqual(set(first), {201, 429})
        self.control("POST", "/_fake/reset")
        self.assertEqual(statuses(), first)

    def test_fault_config_is_validated_and_replaced_whole(self):
        conn = self.fake.connect()
        for config in ({"item_429_rate": 2}, {"nonsense": 1}, {"down": "yes"}, [1]):
            with self.subTest(config=config):
                self.assertEqual(call(conn, "PUT", "/_fake/faults", json.dumps(config))[0].status, 400)
        self.faults(item_429_rate=0.25, latency_ms=5)
        self.faults(down=False)
        config = self.control("GET", "/_fake/faults")
        self.assertEqual((config["item_429_rate"], config["latency_ms"]), (0, 0))
        conn.close()


class ControlApiTest(FakeTestCase):

    def test_docs_and_stats(self):
        self.bulk(ndjson({"index": {"_index": "a", "_id": "1"}}, {"v": "é"},
                         {"index": {"_index": "a", "_id": "1"}}, {"v": 2},
                         {"index": {"_index": "b", "_id": "1"}}, {"v": 3},
                         {"create": {"_index": "b", "_id": "1"}}, {"v": 4}))
        self.assertEqual(self.docs(), [
            {"_index": "a", "_id": "1", "_source": {"v": 2}, "writes": 2},
            {"_index": "b", "_id": "1", "_source": {"v": 3}, "writes": 1}])
        self.assertEqual([d["_index"] for d in self.docs("b")], ["b"])
        self.assertEqual(self.docs("nothing"), [])
        stats = self.stats()
        self.assertEqual(stats["bulk_requests"], 1)
        self.assertEqual(stats["bulk_items"], 4)
        self.assertEqual(stats["items_by_status"], {"201": 2, "200": 1, "409": 1})
        self.assertEqual(stats["documents"], 2)

    def test_reset_forgets_everything(self):
        self.bulk(ndjson({"index": {"_index": "r", "_id": "1"}}, {"n": 1}))
        self.faults(item_429_rate=1.0)
        self.control("POST", "/_fake/reset")
        stats = self.stats()
        self.assertEqual((stats["documents"], stats["bulk_requests"], stats["items_by_status"]),
                         (0, 0, {}))
        self.assertEqual(self.control("GET", "/_fake/faults")["item_429_rate"], 0)
        self.assertEqual(call_json(self.conn, "GET", "/_cat/indices?format=json"), (200, []))
        status, body = self.bulk(ndjson({"index": {"_index": "r", "_id": "1"}}, {"n": "text now"}))
        self.assertEqual(body["items"][0]["index"]["status"], 201)  # the mapping is gone too


class RobustnessTest(FakeTestCase):

    def assert_alive(self):
        conn = self.fake.connect()
        self.assertEqual(call(conn, "GET", "/")[0].status, 200)
        conn.close()

    def test_bad_bodies_get_400(self):
        for body, headers in ((b"\x1f\x8b not really gzip", {"Content-Encoding": "gzip"}),
                              (bytes(range(256)) + b"\n", {}),
                              (b'{"index":{"_index":"\xff\xfe"}}\n{}\n', {}),
                              (b"{" * 100000 + b"\n", {})):
            with self.subTest(body=body[:20]):
                status, answer = self.bulk(body, headers=headers)
                self.assertEqual((status, answer["status"]), (400, 400))
        self.assert_alive()

    def test_broken_clients_do_not_hurt_the_server(self):
        with socket.create_connection(("127.0.0.1", self.fake.port)) as sock:
            sock.sendall(b"\x16\x03\x01 garbage that is no request line\r\n\r\n")
            sock.recv(65536)
        with socket.create_connection(("127.0.0.1", self.fake.port)) as sock:
            sock.sendall(b"POST /_bulk HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"ind")
        with socket.create_connection(("127.0.0.1", self.fake.port)) as sock:
            sock.sendall(b"POST /_bulk HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n")
            self.assertEqual(sock.recv(65536), b"")
        self.assert_alive()

    def test_chunked_request_bodies(self):
        payload = ndjson({"index": {"_index": "ch", "_id": "1"}}, {"chunked": True})
        self.conn.request("POST", "/_bulk", body=iter([payload[:10], payload[10:]]),
                          headers={"Content-Type": "application/x-ndjson"}, encode_chunked=True)
        response = self.conn.getresponse()
        self.assertEqual((response.status, json.loads(response.read())["errors"]), (200, False))
        self.assertEqual(self.docs("ch")[0]["_source"], {"chunked": True})

    def test_keep_alive_and_concurrent_connections(self):
        def client(worker, failures):
            conn = self.fake.connect()
            try:
                for request in range(25):
                    lines = []
                    for n in range(10):
                        lines += [{"index": {"_index": "cc", "_id": f"{worker}-{request}-{n}"}}, {}]
                    status, body = self.bulk_on(conn, ndjson(*lines))
                    if status != 200 or body["errors"]:
                        failures.append(body)
                    if request == 0:
                        first_socket = conn.sock
                    elif conn.sock is not first_socket:
                        failures.append("the connection was not kept alive")
            finally:
                conn.close()

        # Each request takes 20 ms at least: the four clients' requests overlap in time.
        self.faults(latency_ms=20)
        failures = []
        threads = [threading.Thread(target=client, args=(w, failures)) for w in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(failures, [])
        stats = self.stats()
        self.assertEqual(stats["documents"], 1000)
        self.assertEqual(stats["connections"], 4, "one connection per client, kept alive")
        self.assertGreaterEqual(stats["max_concurrent_bulk"], 2, stats)
        self.assertLessEqual(stats["max_concurrent_bulk"], 4, stats)

    @staticmethod
    def bulk_on(conn, body):
        return call_json(conn, "POST", "/_bulk", body, {"Content-Type": "application/x-ndjson"})


class BasicAuthTest(FakeTestCase):

    fake_args = ("--user", "tide", "--password", "s3cret:with colon")

    def auth(self, user, password):
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def test_opensearch_endpoints_need_the_credentials(self):
        for headers in ({}, self.auth("tide", "wrong"), {"Authorization": "Bearer x"}):
            with self.subTest(headers=headers):
                response, data = call(self.conn, "GET", "/", headers=headers)
                self.assertEqual((response.status, data), (401, b"Unauthorized"))
                self.assertEqual(response.getheader("WWW-Authenticate"),
                                 'Basic realm="OpenSearch Security"')
        response, data = call(self.conn, "POST", "/_bulk", ndjson({"index": {"_index": "a"}}, {}))
        self.assertEqual((response.status, data), (401, b"Unauthorized"))
        response, data = call(self.conn, "GET", "/", headers=self.auth("tide", "s3cret:with colon"))
        self.assertEqual((response.status, json.loads(data)["version"]["number"]), (200, "2.11.1"))
        status, body = self.bulk(ndjson({"index": {"_index": "a"}}, {}),
                                 headers=self.auth("tide", "s3cret:with colon"))
        self.assertEqual((status, body["errors"]), (200, False))
        stats = self.stats()  # the control API itself needs no credentials
        self.assertEqual((stats["auth_failures"], stats["documents"]), (4, 1))


class TlsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        openssl = shutil.which("openssl")
        if openssl is None:
            raise AssertionError("FATAL: the `openssl` command is required by the TLS test")
        cls.certdir = tempfile.mkdtemp(prefix="fake-opensearch-tls-")
        cls.cert = os.path.join(cls.certdir, "cert.pem")
        key = os.path.join(cls.certdir, "key.pem")
        subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", cls.cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True)
        cls.fake = FakeProcess("--tls-cert", cls.cert, "--tls-key", key)

    @classmethod
    def tearDownClass(cls):
        cls.fake.stop()
        shutil.rmtree(cls.certdir, ignore_errors=True)

    def https(self):
        context = ssl.create_default_context(cafile=self.cert)
        return http.client.HTTPSConnection("127.0.0.1", self.fake.port, timeout=10, context=context)

    def test_https_with_the_generated_ca(self):
        conn = self.https()
        status, info = call_json(conn, "GET", "/")
        self.assertEqual((status, info["version"]["distribution"]), (200, "opensearch"))
        status, body = call_json(conn, "POST", "/_bulk",
                                 ndjson({"index": {"_index": "tls", "_id": "1"}}, {"secure": True}))
        self.assertEqual((status, body["errors"]), (200, False))
        conn.close()

    def test_plain_http_on_the_tls_port_does_not_hurt(self):
        with self.assertRaises((ConnectionError, http.client.HTTPException)):
            call(self.fake.connect(), "GET", "/")
        conn = self.https()
        self.assertEqual(call(conn, "GET", "/")[0].status, 200)
        conn.close()


class LifecycleTest(unittest.TestCase):

    def test_banner_port_file_and_clean_exit_on_signals(self):
        for signum in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(signal=signum.name):
                fake = FakeProcess("--seed", "7")
                self.assertEqual(fake.banner, f"listening on {fake.port}")
                conn = fake.connect()
                self.assertEqual(call(conn, "GET", "/")[0].status, 200)  # an open keep-alive
                self.assertEqual(fake.stop(signum), 0)
                conn.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
