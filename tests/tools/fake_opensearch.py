#!/usr/bin/env python3
"""A fake OpenSearch 2.11 server with fault injection, for tideline's tests and bench.

Command line:

    fake_opensearch.py [--host 127.0.0.1] [--port 0] [--port-file FILE]
                       [--user U --password P] [--tls-cert CERT --tls-key KEY]
                       [--seed N] [--verbose]

It binds (port 0: the kernel picks), writes the bound port to --port-file atomically (temporary
file + rename), prints `listening on PORT` to stdout and serves HTTP/1.1 with keep-alive (HTTPS
with --tls-cert/--tls-key) until SIGTERM or SIGINT, then exits 0. With --user/--password every
OpenSearch endpoint wants that Basic auth and answers 401 like the security plugin does (body
"Unauthorized", `WWW-Authenticate: Basic realm="OpenSearch Security"`).

OpenSearch endpoints. Shapes and messages follow OpenSearch 2.x (BulkRequestParser,
BulkItemResponse, MetadataCreateIndexService, the security plugin), so a client that passes
against this fake should pass against a real cluster:

    GET|HEAD /                       cluster info (version.number 2.11.1, distribution opensearch)
    POST|PUT /_bulk, /{index}/_bulk  NDJSON; `Content-Encoding: gzip` bodies are decompressed
    GET /{index}/_doc/{id}           GET|POST /{index}/_count       GET|POST /_refresh, /{index}/_refresh
    GET /_cat/indices[?format=json]  HEAD|PUT|DELETE /{index}

Unknown paths get OpenSearch's 400 "no handler found", a known path with another method its 405;
an exception in a handler answers 500 with an OpenSearch-shaped body and the server keeps serving.

Emulated: one primary shard per index (`_seq_no` counts per index, `_primary_term` is 1);
versions survive deletes (tombstones); auto ids are 20-char URL-safe base64; dynamic mapping of
top-level fields (long, double, boolean, text, object; the first value seen decides, later values
must convert as OpenSearch would coerce them). Not emulated: search, scripts, explicit mappings
(a PUT /{index} body is ignored), date detection, optimistic concurrency (if_seq_no, version).

Control endpoints live under /_fake/; they need no auth and are never faulted:

    GET|PUT /_fake/faults      the fault config (PUT replaces it; absent keys mean off)
    GET /_fake/stats           counters: bulk_requests, bulk_items, items_by_status, faults,
                               gzip_requests, auth_failures, documents; connections (TCP
                               connections that carried an OpenSearch request: keep-alive
                               reuse keeps it low) and max_concurrent_bulk (most _bulk requests
                               being handled at one moment, latency_ms included)
    GET /_fake/docs[?index=N]  NDJSON, one line per stored document:
                               {"_index", "_id", "_source", "writes"}; writes counts successful
                               index/create/update of that id (a retried auto-id doc shows up
                               as a second document, an overwrite as writes > 1)
    POST /_fake/reset          drops documents, indices, mappings, stats and faults; reseeds

Fault keys (decided by a random.Random seeded with --seed, under the store lock):

    down (bool)                  every OpenSearch endpoint closes the connection, no response
    max_body_bytes (int)         a _bulk body larger than this on the wire: 413, empty body
    drop_connection_rate (0..1)  a _bulk request is not applied, connection closed, no response
    request_503_rate (0..1)      a _bulk request is answered 503 cluster_block_exception
    request_429_rate (0..1)      a _bulk request is answered 429 rejected_execution_exception
    item_429_rate (0..1)         each bulk item independently fails 429, not applied
    mapping_error_value (str)    a document with a top-level scalar whose JSON text equals this
                                 fails 400 mapper_parsing_exception, on every attempt
    lost_ack_rate (0..1)         a _bulk request is applied, then the connection is closed
    latency_ms (int)             every answered _bulk request is delayed this long

Whole-request faults are checked in the order listed, item faults per item, lost_ack last.
"""

import argparse
import base64
import binascii
import dataclasses
import functools
import gzip
import hmac
import fnmatch
import json
import os
import random
import re
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time
import traceback
import zlib
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

JSON_TYPE = "application/json; charset=UTF-8"
NDJSON_TYPE = "application/x-ndjson; charset=UTF-8"
TEXT_TYPE = "text/plain; charset=UTF-8"

CLUSTER_INFO = {
    "name": "fake-opensearch-node",
    "cluster_name": "fake-opensearch",
    "cluster_uuid": "ZmFrZS1vcGVuc2VhcmNoLQ",
    "version": {
        "distribution": "opensearch",
        "number": "2.11.1",
        "build_type": "tar",
        "build_hash": "fake",
        "build_date": "2023-11-29T21:43:10.135035992Z",
        "build_snapshot": False,
        "lucene_version": "9.7.0",
        "minimum_wire_compatibility_version": "7.10.0",
        "minimum_index_compatibility_version": "7.0.0",
    },
    "tagline": "The OpenSearch Project: https://opensearch.org/",
}

PRIMARY_TERM = 1
WRITE_SHARDS = {"total": 2, "successful": 1, "failed": 0}  # one primary, unassigned replica
NOOP_SHARDS = {"total": 0, "successful": 0, "failed": 0}
MAX_ID_BYTES = 512
MAX_INDEX_NAME_BYTES = 255
INDEXING_PRESSURE_LIMIT = 53687091  # 10% of a 512 MB heap, OpenSearch's default share

BULK_ACTIONS = ("create", "delete", "index", "update")
METADATA_KEYS = frozenset({
    "_index", "_id", "routing", "op_type", "version", "version_type", "if_seq_no",
    "if_primary_term", "retry_on_conflict", "pipeline", "_source", "require_alias"})
UPDATE_KEYS = frozenset({"doc", "upsert", "doc_as_upsert", "detect_noop", "scripted_upsert",
                         "script", "_source"})

# Strings.INVALID_FILENAME_CHARS and its rendering (a Java HashSet<Character>) in messages.
INVALID_NAME_CHARS = frozenset(' "*\\<|,>/?')
INVALID_NAME_CHARS_TEXT = '[ , ", *, \\, <, |, ,, >, /, ?]'

NUMBER_TEXT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")

_ENCODER = json.JSONEncoder(separators=(",", ":"))
_DECODER = json.JSONDecoder()
_ID_RANDOM = random.Random()  # auto ids need not be reproducible, only unique
_ABSENT = object()


def to_json(obj):
    """Compact JSON bytes, as OpenSearch answers without ?pretty."""
    return _ENCODER.encode(obj).encode()


def from_json(line):
    """json.loads for one UTF-8 line, without its per-call encoding detection (hot path)."""
    return _DECODER.decode(line.decode())


# --- OpenSearch errors --------------------------------------------------------------------------

def cause(type_, reason, **fields):
    """One exception as OpenSearch renders it: type, reason, then metadata and caused_by."""
    return {"type": type_, "reason": reason, **fields}


def error_body(status, error):
    """The body of a failed request: {"error": {"root_cause": [...], ...}, "status": N}."""
    root = {key: value for key, value in error.items() if key != "caused_by"}
    return {"error": {"root_cause": [root], **error}, "status": status}


class RequestError(Exception):
    """A failure of the whole request, answered with error_body(status, error)."""

    def __init__(self, status, error):
        super().__init__(error["reason"])
        self.status = status
        self.error = error


def illegal_argument(reason):
    return RequestError(400, cause("illegal_argument_exception", reason))


def malformed_action(line_no, detail):
    return illegal_argument(f"Malformed action/metadata line [{line_no}], {detail}")


def json_error(line_no, exc):
    """x_content_parse_exception for a line that is not JSON at all."""
    column = getattr(exc, "colno", 1)
    message = getattr(exc, "msg", str(exc))
    return RequestError(400, cause("x_content_parse_exception", f"[{line_no}:{column}] {message}"))


def index_not_found(name):
    return cause("index_not_found_exception", f"no such index [{name}]", index=name,
                 **{"resource.id": name, "resource.type": "index_or_alias"}, index_uuid="_na_")


def rejected_execution(operation_bytes):
    return cause("rejected_execution_exception",
                 "rejected execution of coordinating operation [coordinating_and_primary_bytes=0, "
                 f"replica_bytes=0, all_bytes=0, coordinating_operation_bytes={operation_bytes}, "
                 f"max_coordinating_and_primary_bytes={INDEXING_PRESSURE_LIMIT}]")


CLUSTER_BLOCKED = cause("cluster_block_exception",
                        "blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];")


@functools.lru_cache(maxsize=1024)
def index_name_problem(name):
    """Why OpenSearch refuses `name` as an index name, or None (MetadataCreateIndexService)."""
    if any(char in INVALID_NAME_CHARS for char in name):
        return "must not contain the following characters " + INVALID_NAME_CHARS_TEXT
    if "#" in name:
        return "must not contain '#'"
    if ":" in name:
        return "must not contain ':'"
    if name[0] in "_-+":
        return "must not start with '_', '-', or '+'"
    size = len(name.encode())
    if size > MAX_INDEX_NAME_BYTES:
        return f"index name is too long, ({size} > {MAX_INDEX_NAME_BYTES})"
    if name in (".", ".."):
        return "must not be '.' or '..'"
    if name.lower() != name:
        return "must be lowercase"
    return None


def invalid_index_name(name, problem):
    return cause("invalid_index_name_exception", f"Invalid index name [{name}], {problem}",
                 index=name, index_uuid="_na_")


# --- JSON helpers -------------------------------------------------------------------------------

def token_name(value):
    """The Jackson token a JSON value starts with, as OpenSearch names it in messages."""
    if isinstance(value, dict):
        return "START_OBJECT"
    if isinstance(value, list):
        return "START_ARRAY"
    if isinstance(value, str):
        return "VALUE_STRING"
    if isinstance(value, bool):
        return "VALUE_BOOLEAN"
    if value is None:
        return "VALUE_NULL"
    return "VALUE_NUMBER"


def scalar_text(value):
    """A JSON value as OpenSearch's parser.text() gives it: strings bare, the rest as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def merge_into(target, changes):
    """Deep-merges a partial update into `target` like XContentHelper.update; True if changed."""
    changed = False
    for key, value in changes.items():
        old = target.get(key, _ABSENT)
        if isinstance(old, dict) and isinstance(value, dict):
            changed |= merge_into(old, value)
        elif old != value or type(old) is not type(value):
            target[key] = value
            changed = True
    return changed


# --- dynamic mapping ----------------------------------------------------------------------------

def value_kind(value):
    """The field type dynamic mapping infers from a JSON value; None for null or []."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return next(filter(None, map(value_kind, value)), None)
    return None


# (field type, Python type of the value) pairs that always convert: the common case, checked first.
ALWAYS_FITS = frozenset({("long", int), ("long", float), ("double", int), ("double", float),
                         ("boolean", bool), ("text", str), ("text", int), ("text", float),
                         ("text", bool), ("object", dict)})


def value_fits(kind, value):
    """Whether a non-null scalar or object converts to `kind` (OpenSearch coerces by default)."""
    if kind == "object":
        return isinstance(value, dict)
    if isinstance(value, dict):
        return False
    if kind == "text":
        return True
    if kind == "boolean":
        return isinstance(value, bool) or value in ("true", "false")
    if isinstance(value, bool):
        return False
    return not isinstance(value, str) or NUMBER_TEXT.fullmatch(value) is not None


def conversion_error(kind, value):
    """The caused_by OpenSearch reports when `value` does not convert to `kind`."""
    if isinstance(value, dict):
        return cause("illegal_state_exception", "Can't get text on a START_OBJECT")
    if kind == "boolean":
        return cause("illegal_argument_exception", f"Failed to parse value [{scalar_text(value)}] "
                                                   "as only [true] or [false] are allowed.")
    if isinstance(value, bool):
        return cause("json_parse_exception", f"Current token ({token_name(value)}) not numeric, "
                                             "can not use numeric value accessors")
    exception = "number_format_exception" if kind == "double" else "illegal_argument_exception"
    return cause(exception, f'For input string: "{value}"')


def field_failure(field, kind, value, doc_id):
    """mapper_parsing_exception for a value of a field already mapped as `kind`, or None."""
    if isinstance(value, list):
        failures = (field_failure(field, kind, element, doc_id) for element in value)
        return next(filter(None, failures), None)
    if value is None or value_fits(kind, value):
        return None
    if kind == "object":
        return cause("mapper_parsing_exception", f"object mapping for [{field}] tried to parse "
                                                 f"field [{field}] as object, but found a concrete value")
    return cause("mapper_parsing_exception",
                 f"failed to parse field [{field}] of type [{kind}] in document with id "
                 f"'{doc_id}'. Preview of field's value: '{scalar_text(value)}'",
                 caused_by=conversion_error(kind, value))


def injected_mapping_error(doc, doc_id, poison):
    """The mapping_error_value fault: a top-level scalar whose JSON text is `poison`."""
    for field, value in doc.items():
        if not isinstance(value, (dict, list)) and scalar_text(value) == poison:
            return cause("mapper_parsing_exception",
                         f"failed to parse field [{field}] of type [keyword] in document with id "
                         f"'{doc_id}'. Preview of field's value: '{poison}'",
                         caused_by=cause("illegal_argument_exception",
                                         "injected by fake_opensearch mapping_error_value"))
    return None


def learn_fields(mapping, doc):
    """Records the type of every top-level field seen for the first time."""
    if doc.keys() <= mapping.keys():
        return
    for field, value in doc.items():
        if field not in mapping:
            kind = value_kind(value)
            if kind is not None:
                mapping[field] = kind


# --- bulk request parsing -----------------------------------------------------------------------

class BulkItem:
    """One bulk action: what to do, on which index and id, with which document.

    For index/create `doc` is the parsed source and `raw` its bytes as received (or `failure`
    says why the source is unusable); for update `doc` is the parsed update body."""

    __slots__ = ("action", "index", "doc_id", "doc", "raw", "failure")

    def __init__(self, action, index, doc_id):
        self.action = action
        self.index = index
        self.doc_id = doc_id
        self.doc = None
        self.raw = None
        self.failure = None


def new_doc_id():
    """A 20-character URL-safe id, shaped like OpenSearch's auto-generated ids."""
    return base64.urlsafe_b64encode(_ID_RANDOM.getrandbits(120).to_bytes(15, "big")).decode()


def metadata_text(value):
    """A metadata value as the parser's text(): numbers and booleans become strings."""
    return None if value is None else scalar_text(value)


def parse_action_line(line, line_no):
    """(action, metadata) of one action/metadata line, checked like BulkRequestParser."""
    try:
        obj = from_json(line)
    except ValueError as exc:
        raise json_error(line_no, exc) from None
    if not isinstance(obj, dict):
        raise malformed_action(line_no, f"expected START_OBJECT but found [{token_name(obj)}]")
    if not obj:
        raise malformed_action(line_no, "expected FIELD_NAME but found [END_OBJECT]")
    (action, metadata), *extra = obj.items()
    if action not in BULK_ACTIONS:
        raise malformed_action(line_no, "expected field [create], [delete], [index] or [update] "
                                        f"but found [{action}]")
    if not isinstance(metadata, dict):
        raise malformed_action(line_no, "expected START_OBJECT or END_OBJECT but found "
                                        f"[{token_name(metadata)}]")
    for key, value in metadata.items():
        if isinstance(value, list) or (isinstance(value, dict) and key != "_source"):
            raise malformed_action(line_no, f"expected a simple value for field [{key}] but found "
                                            f"[{token_name(value)}]")
        if key not in METADATA_KEYS and value is not None:
            raise illegal_argument(f"Action/metadata line [{line_no}] contains an unknown "
                                   f"parameter [{key}]")
    if extra:
        raise malformed_action(line_no, "expected END_OBJECT but found [FIELD_NAME]")
    if action == "index" and metadata.get("op_type") == "create":
        action = "create"
    return action, metadata


def attach_source(item, line):
    """Parses the source line of an index/create item; a bad one fails only that item."""
    item.raw = line.rstrip(b"\r")
    try:
        doc = from_json(line)
    except ValueError as exc:
        reason = "failed to parse, document is empty" if not line.strip() else "failed to parse"
        item.failure = cause("mapper_parsing_exception", reason,
                             caused_by=cause("json_parse_exception", str(exc)))
        return
    if isinstance(doc, dict):
        item.doc = doc
    else:
        item.failure = cause("mapper_parsing_exception", "failed to parse",
                             caused_by=cause("not_x_content_exception",
                                             "Malformed content, must start with an object"))


def parse_update_body(line, line_no):
    """The update body ({"doc": ...} and friends); a bad one fails the whole request."""
    try:
        spec = from_json(line)
    except ValueError as exc:
        raise json_error(line_no, exc) from None
    if not isinstance(spec, dict):
        raise RequestError(400, cause("x_content_parse_exception", f"[{line_no}:1] [UpdateRequest] "
                                      f"Expected START_OBJECT but found [{token_name(spec)}]"))
    for key, value in spec.items():
        if key not in UPDATE_KEYS:
            raise RequestError(400, cause("x_content_parse_exception",
                                          f"[{line_no}:2] [UpdateRequest] unknown field [{key}]"))
        if key in ("doc", "upsert") and not isinstance(value, dict):
            raise RequestError(400, cause("x_content_parse_exception",
                                          f"[{line_no}:2] [UpdateRequest] failed to parse field [{key}]"))
    if "script" in spec:
        raise illegal_argument("fake_opensearch does not run scripts; send a partial \"doc\"")
    return spec


def validation_problems(item):
    """ActionRequestValidationException messages of one item (IndexRequest/UpdateRequest...)."""
    problems = []
    if not item.index:
        problems.append("index is missing")
    if not item.doc_id and item.action in ("update", "delete"):
        problems.append("id is missing")
    if item.doc_id and len(item.doc_id.encode()) > MAX_ID_BYTES:
        problems.append(f"id [{item.doc_id}] is too long, must be no longer than {MAX_ID_BYTES} "
                        f"bytes but was: {len(item.doc_id.encode())}")
    if item.action == "update" and "doc" not in item.doc:
        problems.append("script or doc is missing")
    return problems


def validate(items):
    problems = [problem for item in items for problem in validation_problems(item)]
    if not items:
        problems = ["no requests added"]
    if problems:
        numbered = "".join(f"{n}: {problem};" for n, problem in enumerate(problems, 1))
        raise RequestError(400, cause("action_request_validation_exception",
                                      f"Validation Failed: {numbered}"))


def parse_bulk(body, default_index):
    """The items of an NDJSON bulk body, or RequestError for what OpenSearch refuses whole."""
    if not body:
        raise RequestError(400, cause("parse_exception", "request body is required"))
    lines = body.split(b"\n")
    if lines[-1]:
        raise illegal_argument("The bulk request must be terminated by a newline [\\n]")
    items = []
    end = len(lines) - 1
    position = 0
    while position < end:
        line = lines[position]
        position += 1
        if not line.strip():
            continue
        action, metadata = parse_action_line(line, position)
        index = metadata.get("_index")
        item = BulkItem(action, default_index if index is None else metadata_text(index),
                        metadata_text(metadata.get("_id")))
        if action != "delete":
            if position == end:
                break  # an action without its source line is dropped, as OpenSearch does
            source = lines[position]
            position += 1
            if action == "update":
                item.doc = parse_update_body(source, position)
            else:
                attach_source(item, source)
                item.doc_id = item.doc_id or new_doc_id()
        items.append(item)
    validate(items)
    return items


# --- faults -------------------------------------------------------------------------------------

def _is_rate(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


FAULT_CHECKS = {
    "down": (lambda v: isinstance(v, bool), "a boolean"),
    "max_body_bytes": (lambda v: v is None or _is_count(v), "a byte count or null"),
    "drop_connection_rate": (_is_rate, "a number in [0, 1]"),
    "request_503_rate": (_is_rate, "a number in [0, 1]"),
    "request_429_rate": (_is_rate, "a number in [0, 1]"),
    "item_429_rate": (_is_rate, "a number in [0, 1]"),
    "mapping_error_value": (lambda v: v is None or isinstance(v, str), "a string or null"),
    "lost_ack_rate": (_is_rate, "a number in [0, 1]"),
    "latency_ms": (_is_count, "a non-negative integer"),
}

FAULT_COUNTERS = ("down", "too_large", "drop_connection", "request_503", "request_429",
                  "item_429", "mapping_error", "lost_ack")


@dataclasses.dataclass(frozen=True)
class Faults:
    """The fault config; immutable, replaced whole by PUT /_fake/faults."""
    down: bool = False
    max_body_bytes: int | None = None
    drop_connection_rate: float = 0.0
    request_503_rate: float = 0.0
    request_429_rate: float = 0.0
    item_429_rate: float = 0.0
    mapping_error_value: str | None = None
    lost_ack_rate: float = 0.0
    latency_ms: int = 0

    @classmethod
    def from_json(cls, obj):
        if not isinstance(obj, dict):
            raise ValueError("the fault config must be a JSON object")
        for key, value in obj.items():
            if key not in FAULT_CHECKS:
                raise ValueError(f"unknown fault [{key}], known: {sorted(FAULT_CHECKS)}")
            check, expected = FAULT_CHECKS[key]
            if not check(value):
                raise ValueError(f"fault [{key}] must be {expected}, got {json.dumps(value)}")
        return cls(**obj)


# --- the document store -------------------------------------------------------------------------

class Index:
    """One index with a single primary shard: documents in first-write order and their state."""

    def __init__(self, name):
        self.name = name
        self.uuid = base64.urlsafe_b64encode(os.urandom(16)).decode()[:22]
        self.docs = {}      # id -> (raw source bytes, seq_no)
        self.versions = {}  # id -> last version; kept after a delete, like a tombstone
        self.writes = {}    # id -> successful index/create/update operations
        self.mapping = {}   # top-level field -> dynamic type
        self.seq_no = -1

    def next_seq_no(self):
        self.seq_no += 1
        return self.seq_no

    def error(self, type_, reason):
        """A document-level exception, carrying the shard it happened on."""
        return cause(type_, reason, index=self.name, shard="0", index_uuid=self.uuid)


def write_result(index, doc_id, version, result, seq_no, status, shards=WRITE_SHARDS):
    return {"_index": index.name, "_id": doc_id, "_version": version, "result": result,
            "_shards": shards, "_seq_no": seq_no, "_primary_term": PRIMARY_TERM, "status": status}


def failed(item, status, error):
    return {"_index": item.index, "_id": item.doc_id, "status": status, "error": error}


def new_stats():
    return {"bulk_requests": 0, "bulk_items": 0, "items_by_status": {},
            "faults": dict.fromkeys(FAULT_COUNTERS, 0), "gzip_requests": 0, "auth_failures": 0,
            "connections": 0, "max_concurrent_bulk": 0}


class Store:
    """All indices, the fault config, the fault RNG and the stats, guarded by one lock.

    A bulk request is applied atomically under the lock, so `_seq_no` order is request order."""

    def __init__(self, seed):
        self.seed = seed
        self.lock = threading.Lock()
        self.bulk_in_flight = 0  # _bulk requests being handled now (a reset does not clear it)
        self._clear()

    def _clear(self):
        self.indices = {}
        self.faults = Faults()
        self.stats = new_stats()
        self.rng = random.Random(self.seed)

    def reset(self):
        with self.lock:
            self._clear()

    def count(self, counter):
        with self.lock:
            self.stats[counter] += 1

    def count_fault(self, fault):
        with self.lock:
            self.stats["faults"][fault] += 1

    def _roll(self, rate, fault):
        """True with probability `rate`, counting the fault when it fires. Caller holds the lock."""
        if rate and self.rng.random() < rate:
            self.stats["faults"][fault] += 1
            return True
        return False

    def bulk_started(self):
        with self.lock:
            self.bulk_in_flight += 1
            self.stats["max_concurrent_bulk"] = max(self.stats["max_concurrent_bulk"],
                                                    self.bulk_in_flight)

    def bulk_finished(self):
        with self.lock:
            self.bulk_in_flight -= 1

    def request_fault(self, faults):
        """The whole-request fault to inject into one _bulk request, or None."""
        with self.lock:
            self.stats["bulk_requests"] += 1
            for fault in ("drop_connection", "request_503", "request_429"):
                if self._roll(getattr(faults, fault + "_rate"), fault):
                    return fault
        return None

    def apply_bulk(self, items, faults):
        """([{action: result}, ...] in request order, whether the acknowledgement is lost)."""
        with self.lock:
            results = [self._apply(item, faults) for item in items]
            self.stats["bulk_items"] += len(items)
            return results, self._roll(faults.lost_ack_rate, "lost_ack")

    def _apply(self, item, faults):
        result = self._execute(item, faults)
        by_status = self.stats["items_by_status"]
        status = str(result["status"])
        by_status[status] = by_status.get(status, 0) + 1
        return {item.action: result}

    def _execute(self, item, faults):
        problem = index_name_problem(item.index)
        if problem:
            return failed(item, 400, invalid_index_name(item.index, problem))
        index = self.indices.get(item.index)
        if index is None:
            if item.action == "delete":  # deletes do not auto-create their index
                return failed(item, 404, index_not_found(item.index))
            index = self.indices[item.index] = Index(item.index)
        if self._roll(faults.item_429_rate, "item_429"):
            return failed(item, 429, rejected_execution(len(item.raw or b"")))
        if item.failure:
            return failed(item, 400, item.failure)
        if item.action == "delete":
            return self._delete(index, item.doc_id)
        if item.action == "update":
            return self._update(index, item, faults)
        return self._index(index, item, faults)

    def _document_failure(self, index, doc, doc_id, faults):
        """Why a document cannot be indexed (injected fault or mapping conflict), or None."""
        if faults.mapping_error_value is not None:
            failure = injected_mapping_error(doc, doc_id, faults.mapping_error_value)
            if failure:
                self.stats["faults"]["mapping_error"] += 1
                return failure
        mapping = index.mapping
        for field, value in doc.items():
            kind = mapping.get(field)
            if kind is not None and (kind, type(value)) not in ALWAYS_FITS:
                failure = field_failure(field, kind, value, doc_id)
                if failure:
                    return failure
        return None

    def _index(self, index, item, faults):
        failure = self._document_failure(index, item.doc, item.doc_id, faults)
        if failure:
            return failed(item, 400, failure)
        if item.action == "create" and item.doc_id in index.docs:
            return failed(item, 409, index.error(
                "version_conflict_engine_exception",
                f"[{item.doc_id}]: version conflict, document already exists "
                f"(current version [{index.versions[item.doc_id]}])"))
        learn_fields(index.mapping, item.doc)
        return self._store(index, item.doc_id, item.raw)

    def _update(self, index, item, faults):
        spec, doc_id = item.doc, item.doc_id
        stored = index.docs.get(doc_id)
        if stored is not None:
            doc = json.loads(stored[0])
            if not merge_into(doc, spec["doc"]) and spec.get("detect_noop", True) is not False:
                return write_result(index, doc_id, index.versions[doc_id], "noop", stored[1], 200,
                                    NOOP_SHARDS)
        elif spec.get("doc_as_upsert") is True:
            doc = spec["doc"]
        elif "upsert" in spec:
            doc = spec["upsert"]
        else:
            return failed(item, 404, index.error("document_missing_exception",
                                                 f"[{doc_id}]: document missing"))
        failure = self._document_failure(index, doc, doc_id, faults)
        if failure:
            return failed(item, 400, failure)
        learn_fields(index.mapping, doc)
        return self._store(index, doc_id, to_json(doc))

    def _store(self, index, doc_id, raw):
        created = doc_id not in index.docs
        version = index.versions.get(doc_id, 0) + 1
        seq_no = index.next_seq_no()
        index.versions[doc_id] = version
        index.docs[doc_id] = (raw, seq_no)
        index.writes[doc_id] = index.writes.get(doc_id, 0) + 1
        if created:
            return write_result(index, doc_id, version, "created", seq_no, 201)
        return write_result(index, doc_id, version, "updated", seq_no, 200)

    def _delete(self, index, doc_id):
        existed = index.docs.pop(doc_id, None) is not None
        version = index.versions.get(doc_id, 0) + 1
        index.versions[doc_id] = version
        seq_no = index.next_seq_no()
        if existed:
            return write_result(index, doc_id, version, "deleted", seq_no, 200)
        return write_result(index, doc_id, version, "not_found", seq_no, 404)

    def existing(self, name):
        """The index called `name`, or RequestError 404. Caller holds the lock."""
        index = self.indices.get(name)
        if index is None:
            raise RequestError(404, index_not_found(name))
        return index

    def stats_snapshot(self):
        with self.lock:
            snapshot = {**self.stats, "items_by_status": dict(self.stats["items_by_status"]),
                        "faults": dict(self.stats["faults"])}
            snapshot["documents"] = sum(len(index.docs) for index in self.indices.values())
        return snapshot

    def dump_docs(self, only_index):
        """NDJSON of the stored documents; sources are emitted as received, never re-encoded."""
        parts = []
        with self.lock:
            for index in self.indices.values():
                if only_index is not None and index.name != only_index:
                    continue
                prefix = b'{"_index":' + to_json(index.name) + b',"_id":'
                writes = index.writes
                for doc_id, (raw, _) in index.docs.items():
                    parts += (prefix, to_json(doc_id), b',"_source":', raw,
                              b',"writes":%d}\n' % writes[doc_id])
        return b"".join(parts)


# --- replies and routes -------------------------------------------------------------------------

@dataclasses.dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str | None = JSON_TYPE
    headers: tuple = ()


def json_reply(status, obj):
    return Reply(status, to_json(obj))


def error_reply(err):
    return json_reply(err.status, error_body(err.status, err.error))


def route_info(store, body, query):
    return json_reply(200, CLUSTER_INFO)


def filter_paths(value, patterns):
    """OpenSearch's `filter_path` response filtering: dotted paths with * wildcards; arrays are
    transparent; objects left empty are dropped. None means nothing is kept."""
    if any(not p for p in patterns):
        return value
    if isinstance(value, list):
        kept = [filter_paths(v, patterns) for v in value]
        return [v for v in kept if v is not None]
    if not isinstance(value, dict):
        return None
    out = {}
    for key, child in value.items():
        rest = [p[1:] for p in patterns if fnmatch.fnmatchcase(key, p[0])]
        if rest:
            kept = filter_paths(child, rest)
            if kept is not None:
                out[key] = kept
    return out or None


def route_bulk(store, body, query, index=None):
    """Answers a _bulk request; None means: close the connection without answering."""
    faults = store.faults
    patterns = [p.split(".") for q in query.get("filter_path", []) for p in q.split(",") if p]
    store.bulk_started()
    try:
        reply = bulk_outcome(store, faults, body, index, patterns)
        if reply is not None and faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        return reply
    finally:
        store.bulk_finished()


def bulk_outcome(store, faults, body, index, patterns):
    started = time.monotonic()
    fault = store.request_fault(faults)
    if fault == "drop_connection":
        return None
    if fault == "request_503":
        return json_reply(503, error_body(503, CLUSTER_BLOCKED))
    if fault == "request_429":
        return json_reply(429, error_body(429, rejected_execution(len(body))))
    try:
        items = parse_bulk(body, index)
    except RequestError as err:
        return error_reply(err)
    results, ack_lost = store.apply_bulk(items, faults)
    if ack_lost:
        return None
    errors = any("error" in result for item in results for result in item.values())
    took = int((time.monotonic() - started) * 1000)
    response = {"took": took, "errors": errors, "items": results}
    if patterns:
        response = filter_paths(response, patterns) or {}
    return json_reply(200, response)


def route_refresh(store, body, query, index=None):
    with store.lock:
        if index is not None:
            store.existing(index)
        refreshed = len(store.indices) if index is None else 1
    return json_reply(200, {"_shards": {"total": 2 * refreshed, "successful": refreshed,
                                        "failed": 0}})


def route_count(store, body, query, index):
    with store.lock:
        count = len(store.existing(index).docs)
    return json_reply(200, {"count": count, "_shards": {"total": 1, "successful": 1,
                                                        "skipped": 0, "failed": 0}})


def route_get_doc(store, body, query, index, doc_id):
    with store.lock:
        found = store.existing(index)
        stored = found.docs.get(doc_id)
        version = found.versions.get(doc_id)
    if stored is None:
        return json_reply(404, {"_index": index, "_id": doc_id, "found": False})
    raw, seq_no = stored
    head = to_json({"_index": index, "_id": doc_id, "_version": version, "_seq_no": seq_no,
                    "_primary_term": PRIMARY_TERM, "found": True})
    return Reply(200, head[:-1] + b',"_source":' + raw + b"}")


def route_cat_indices(store, body, query):
    with store.lock:
        rows = []
        for index in store.indices.values():
            size = f"{sum(len(raw) for raw, _ in index.docs.values())}b"
            rows.append({"health": "yellow", "status": "open", "index": index.name,
                         "uuid": index.uuid, "pri": "1", "rep": "1",
                         "docs.count": str(len(index.docs)), "docs.deleted": "0",
                         "store.size": size, "pri.store.size": size})
    if query.get("format") == ["json"]:
        return json_reply(200, rows)
    text = "".join(" ".join(row.values()) + "\n" for row in rows)
    return Reply(200, text.encode(), TEXT_TYPE)


def route_head_index(store, body, query, index):
    with store.lock:
        exists = index in store.indices
    return Reply(200 if exists else 404, content_type=None)


def route_create_index(store, body, query, index):
    problem = index_name_problem(index)
    if problem:
        raise RequestError(400, invalid_index_name(index, problem))
    with store.lock:
        existing = store.indices.get(index)
        if existing is None:
            store.indices[index] = Index(index)
    if existing is not None:
        raise RequestError(400, cause("resource_already_exists_exception",
                                      f"index [{index}/{existing.uuid}] already exists",
                                      index=index, index_uuid=existing.uuid))
    return json_reply(200, {"acknowledged": True, "shards_acknowledged": True, "index": index})


def route_delete_index(store, body, query, index):
    with store.lock:
        store.existing(index)
        del store.indices[index]
    return json_reply(200, {"acknowledged": True})


ROUTES = [
    (re.compile(r"/"), {"GET": route_info, "HEAD": route_info}),
    (re.compile(r"/_bulk"), {"POST": route_bulk, "PUT": route_bulk}),
    (re.compile(r"/_refresh"), {"POST": route_refresh, "GET": route_refresh}),
    (re.compile(r"/_cat/indices"), {"GET": route_cat_indices}),
    (re.compile(r"/(?P<index>[^/]+)/_bulk"), {"POST": route_bulk, "PUT": route_bulk}),
    (re.compile(r"/(?P<index>[^/]+)/_refresh"), {"POST": route_refresh, "GET": route_refresh}),
    (re.compile(r"/(?P<index>[^/]+)/_count"), {"GET": route_count, "POST": route_count}),
    (re.compile(r"/(?P<index>[^/]+)/_doc/(?P<doc_id>[^/]+)"), {"GET": route_get_doc}),
    (re.compile(r"/(?P<index>[^/]+)"), {"HEAD": route_head_index, "PUT": route_create_index,
                                        "DELETE": route_delete_index}),
]


def resolve_route(method, path, uri):
    """(route function, path parameters), or the Reply OpenSearch gives for an unknown route."""
    for pattern, methods in ROUTES:
        match = pattern.fullmatch(path)
        if match:
            if method not in methods:
                allowed = ", ".join(methods)
                return json_reply(405, {"error": f"Incorrect HTTP method for uri [{uri}] and method "
                                                 f"[{method}], allowed: [{allowed}]", "status": 405})
            return methods[method], {key: unquote(value) for key, value in match.groupdict().items()}
    return json_reply(400, {"error": f"no handler found for uri [{uri}] and method [{method}]"})


def control_get_faults(store, body, query):
    return json_reply(200, dataclasses.asdict(store.faults))


def control_put_faults(store, body, query):
    try:
        faults = Faults.from_json(json.loads(body or b"{}"))
    except ValueError as exc:
        return json_reply(400, {"error": str(exc)})
    store.faults = faults
    return json_reply(200, dataclasses.asdict(faults))


def control_stats(store, body, query):
    return json_reply(200, store.stats_snapshot())


def control_docs(store, body, query):
    return Reply(200, store.dump_docs(query.get("index", [None])[0]), NDJSON_TYPE)


def control_reset(store, body, query):
    store.reset()
    return json_reply(200, {"acknowledged": True})


CONTROL_ROUTES = {
    ("GET", "/_fake/faults"): control_get_faults,
    ("PUT", "/_fake/faults"): control_put_faults,
    ("GET", "/_fake/stats"): control_stats,
    ("GET", "/_fake/docs"): control_docs,
    ("POST", "/_fake/reset"): control_reset,
}

UNAUTHORIZED = Reply(401, b"Unauthorized", TEXT_TYPE,
                     (("WWW-Authenticate", 'Basic realm="OpenSearch Security"'),))


# --- HTTP ---------------------------------------------------------------------------------------

class ClientGone(ConnectionError):
    """The request cannot be read to its end (client gone, broken framing): close quietly."""


class Handler(BaseHTTPRequestHandler):
    """One keep-alive connection: reads requests, routes them, writes replies (or drops)."""

    protocol_version = "HTTP/1.1"

    def setup(self):
        self.counted = False  # whether this connection was counted in stats["connections"]
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()  # here, in the connection's thread, not in accept()
        super().setup()

    def _serve(self):
        """Every method lands here: answer, drop, or answer 500 on a bug in the fake."""
        try:
            reply = self._handle()
            if reply is None:
                self._drop()
            else:
                self._send(reply)
        except (ConnectionError, TimeoutError, ssl.SSLError):
            self.close_connection = True
        except Exception as exc:  # a bug in the fake must not take the server down
            traceback.print_exc()
            self._send_500(exc)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _serve

    def _handle(self):
        store = self.server.store
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        raw = self._read_body()
        if url.path.startswith("/_fake/"):
            control = CONTROL_ROUTES.get((self.command, url.path))
            if control is None:
                return json_reply(404, {"error": f"no control endpoint [{self.command} {url.path}]"})
            return control(store, raw, query)
        if not self.counted:  # the first OpenSearch request on this connection
            self.counted = True
            store.count("connections")
        faults = store.faults
        if faults.down:
            store.count_fault("down")
            return None
        route = resolve_route(self.command, url.path, self.path)
        if isinstance(route, Reply):
            return route
        function, params = route
        if (function is route_bulk and faults.max_body_bytes is not None
                and len(raw) > faults.max_body_bytes):
            store.count_fault("too_large")
            return Reply(413, content_type=None)  # http.max_content_length: no body at all
        if not self._authorized():
            store.count("auth_failures")
            return UNAUTHORIZED
        try:
            return function(store, self._decode(raw), query, **params)
        except RequestError as err:
            return error_reply(err)

    def handle_expect_100(self):
        if self.server.store.faults.down:
            return True  # a down server sends nothing, not even 100 Continue
        return super().handle_expect_100()

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        length = self.headers.get("Content-Length", "0")
        if not length.isdigit():
            self.close_connection = True  # the framing of the connection is lost
            raise ClientGone(f"unusable Content-Length [{length}]")
        return self._read_exactly(int(length))

    def _read_chunked(self):
        parts = []
        while True:
            size_line = self.rfile.readline(1024)
            try:
                size = int(size_line.split(b";")[0], 16)
            except ValueError:
                raise ClientGone(f"bad chunk size line {size_line!r}") from None
            if size == 0:
                while self.rfile.readline(1024).strip():
                    pass  # trailers
                return b"".join(parts)
            parts.append(self._read_exactly(size))
            self.rfile.readline(16)  # the CRLF that closes the chunk

    def _read_exactly(self, size):
        data = self.rfile.read(size)
        if len(data) != size:
            raise ClientGone(f"body ended after {len(data)} of {size} bytes")
        return data

    def _decode(self, raw):
        """The request content: gzip bodies are decompressed, anything else passes through."""
        if self.headers.get("Content-Encoding", "").strip().lower() not in ("gzip", "x-gzip"):
            return raw
        self.server.store.count("gzip_requests")
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise illegal_argument(f"cannot decompress the gzip request body: {exc}") from None

    def _authorized(self):
        expected = self.server.credentials
        if expected is None:
            return True
        scheme, _, encoded = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            supplied = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(supplied, expected)

    def _send(self, reply):
        head = [f"HTTP/1.1 {reply.status} {HTTPStatus(reply.status).phrase}"]
        if reply.content_type:
            head.append(f"content-type: {reply.content_type}")
        head.append(f"content-length: {len(reply.body)}")
        head += [f"{name}: {value}" for name, value in reply.headers]
        body = b"" if self.command == "HEAD" else reply.body
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        self.log_request(reply.status, len(body))

    def _send_500(self, exc):
        error = cause("exception", f"fake_opensearch internal error: {type(exc).__name__}: {exc}")
        try:
            self._send(json_reply(500, error_body(500, error)))
        except OSError:
            self.close_connection = True

    def _drop(self):
        """Closes the connection without a byte of response (FIN, not RST: the body was read)."""
        self.close_connection = True
        self.log_message('"%s" dropped without a response', self.requestline)
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def log_message(self, format, *args):
        if self.server.verbose:
            super().log_message(format, *args)


class FakeOpenSearchServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address, store, credentials=None, verbose=False):
        self.store = store
        self.credentials = credentials  # b"user:password", or None for no auth
        self.verbose = verbose
        super().__init__(address, Handler)

    def server_bind(self):
        # HTTPServer.server_bind would do a reverse DNS lookup (getfqdn) of the host.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, ssl.SSLError)):
            super().handle_error(request, client_address)


def serve_tls(server, cert, key):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True,
                                        do_handshake_on_connect=False)


def write_port_file(path, port):
    temporary = f"{path}.tmp.{os.getpid()}"
    with open(temporary, "w") as f:
        f.write(f"{port}\n")
    os.replace(temporary, path)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: the kernel picks a free port")
    parser.add_argument("--port-file", help="written atomically with the bound port")
    parser.add_argument("--user", help="require this Basic auth user (with --password)")
    parser.add_argument("--password")
    parser.add_argument("--tls-cert", help="serve HTTPS with this PEM certificate (with --tls-key)")
    parser.add_argument("--tls-key")
    parser.add_argument("--seed", type=int, default=1, help="seed of the fault decisions")
    parser.add_argument("--verbose", action="store_true", help="log each request to stderr")
    args = parser.parse_args(argv)
    if (args.user is None) != (args.password is None):
        parser.error("--user and --password go together")
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    return args


def main(argv=None):
    args = parse_args(argv)
    credentials = None if args.user is None else f"{args.user}:{args.password}".encode()
    server = FakeOpenSearchServer((args.host, args.port), Store(args.seed), credentials,
                                  args.verbose)
    if args.tls_cert:
        serve_tls(server, args.tls_cert, args.tls_key)

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    port = server.server_address[1]
    if args.port_file:
        write_port_file(args.port_file, port)
    print(f"listening on {port}", flush=True)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
