#!/usr/bin/env python3
"""OpenSearch delivery drills: the real `tideline serve` runs an access_log pipeline into a fake
OpenSearch (tests/tools/fake_opensearch.py) that injects faults: per-item 429s, whole-request
503s, lost acknowledgements (the bulk request is applied, then the connection is closed) and a
mapping error on one planted value.

What a user relies on, and what every test checks at the end:
  * every acknowledged, parseable record is in the index exactly once, under the id
    `<stream>-<sequence number>`, written once (`create` never overwrites), with the fields of its
    line; no line is indexed under two ids;
  * a document OpenSearch refuses (the planted mapping error) is not indexed but is in the
    backup's opensearch-failed files with errorCode "400" and its id;
  * an unparseable line is in the backup's processing-failed files with its raw data;
  * nothing is both indexed and backed up, and nothing is lost.

Tests:
  1. 100,000 lines (1% poison, 1% garbage) into 4 shards under faults; status, /metrics and the
     fake's own counters must agree.
  2. 30,000 lines under the same faults while the server is SIGKILLed 10 times mid-delivery
     (checkpoints are checked against the index after every restart).
  3. OpenSearch down (first answering nothing, then not listening) for longer than
     retry_duration_s: everything goes to the backup, the server stays healthy; then the fake
     comes back on the same port and `tideline backup redrive` puts every document in the index
     once, moves the files to redriven/, and a second redrive has nothing to send.

Run: python3 test_opensearch_delivery.py --tideline build/cli/tideline [TestClass.test_name]
Environment: TIDELINE_OS_SEED (default 7321) seeds the fault decisions and the kill moments.
"""

import atexit
import base64
import collections
import glob
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request
import zlib

import harness
from harness import seq_offset

SEED = int(os.environ.get("TIDELINE_OS_SEED", "7321"))
FAKE_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools",
                           "fake_opensearch.py")
STREAM = "access"
PIPELINE = "weblogs"
INDEX = "weblogs"
SHARDS = 4
POISON = "/poison"  # the fake refuses every document with a top-level value of this text
# Whole-request faults are decided per bulk request, and a flush makes only a few of those (at
# most one per 256 KiB, plus retry rounds): at a 0.02 lost-ack rate the 100k drill can pass
# without a single lost acknowledgement. 0.05 with a paced producer makes hundreds of requests.
FAULTS = {"item_429_rate": 0.10, "request_503_rate": 0.05, "lost_ack_rate": 0.05,
          "mapping_error_value": POISON}
TRANSPORT_ERRORS = (OSError, http.client.HTTPException, ValueError)
UA_N = re.compile(r"\(n=(\d+)\)")
METHODS = ("GET", "GET", "POST", "PUT", "GET", "DELETE", "HEAD")
STATUSES = (200, 200, 201, 304, 404, 500, 200, 302)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# ---- the fake OpenSearch ------------------------------------------------------------------------

class FakeOpenSearch:
    """One fake_opensearch.py process: started on a free port (read from --port-file), restartable
    on the same port; its control API (/_fake/...) sets faults and returns documents and stats."""

    STARTUP_DEADLINE_S = harness.scaled(20.0)

    def __init__(self, seed, name="fake-os"):
        self.seed = seed
        self.workdir = tempfile.mkdtemp(prefix=f"{name}-")
        self.port_file = os.path.join(self.workdir, "port")
        self.log_path = os.path.join(self.workdir, "fake.log")
        self.proc = None
        self.port = None
        self.starts = 0
        atexit.register(self.cleanup)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, port=None):
        """Starts on `port` (default: the previous port, or a free one the first time) and
        returns once the control API answers. A port just freed by a stopped fake can take a
        moment to bind again (the listener sets SO_REUSEADDR): retried within the deadline."""
        assert not self.alive(), "the fake is already running"
        port = self.port if port is None else port
        deadline = time.monotonic() + self.STARTUP_DEADLINE_S
        while True:
            if os.path.exists(self.port_file):
                os.unlink(self.port_file)
            cmd = [sys.executable, FAKE_SCRIPT, "--port", str(port or 0), "--port-file",
                   self.port_file, "--seed", str(self.seed + self.starts)]
            with open(self.log_path, "ab") as log:
                log.write(f"\n=== start #{self.starts + 1}: {' '.join(cmd)}\n".encode())
                log.flush()
                self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL)
            while self.proc.poll() is None and not os.path.exists(self.port_file):
                if time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError(f"the fake wrote no port file\n{self.log_tail()}")
                time.sleep(0.02)  # readiness polling, bounded by the deadline
            if self.proc.poll() is None:
                break
            if not port or time.monotonic() > deadline:  # a fixed port may still be in use
                raise RuntimeError(f"the fake exited with {self.proc.returncode}\n"
                                   f"{self.log_tail()}")
            time.sleep(0.1)  # the port is not free yet: try again until the deadline
        with open(self.port_file) as f:
            self.port = int(f.read().strip())
        if port:
            assert self.port == port, (self.port, port)
        while True:
            try:
                self.stats()
                break
            except TRANSPORT_ERRORS:
                if time.monotonic() > deadline or not self.alive():
                    raise RuntimeError(f"the fake does not answer\n{self.log_tail()}")
                time.sleep(0.02)
        self.starts += 1

    def stop(self):
        """SIGTERM (the fake exits 0); SIGKILL after 10 s. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode

    def kill(self):
        if self.alive():
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait(timeout=10)

    def restart(self):
        """Stops and starts again on the same port (documents and faults are lost)."""
        self.stop()
        self.start(self.port)

    def cleanup(self):
        self.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return "(no fake log)"
        return "--- fake OpenSearch log (tail) ---\n" + "\n".join(text.splitlines()[-lines:])

    def control(self, method, path, body=None, timeout=60):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = None if body is None else json.dumps(body).encode()
            conn.request(method, path, body=data,
                         headers={"Content-Type": "application/json"} if data else {})
            resp = conn.getresponse()
            payload = resp.read()
        finally:
            conn.close()
        if resp.status != 200:
            raise AssertionError(f"{method} {path} answered {resp.status}: {payload[:300]!r}")
        return payload

    def set_faults(self, **faults):
        """Replaces the whole fault config (absent keys: off)."""
        return json.loads(self.control("PUT", "/_fake/faults", faults))

    def stats(self):
        return json.loads(self.control("GET", "/_fake/stats", timeout=5))

    def docs(self, index=INDEX):
        text = self.control("GET", f"/_fake/docs?index={index}").decode()
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def reset(self):
        self.control("POST", "/_fake/reset")


# ---- records ------------------------------------------------------------------------------------

def kind_of(n):
    """About 1% of the lines carry the poison value, 1% are garbage."""
    return {37: "poison", 73: "garbage"}.get(n % 100, "normal")


def expected_fields(n):
    """The fields the access_log processor must extract from line n (poison lines included)."""
    return {"client_ip": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}",
            "method": METHODS[n % len(METHODS)],
            "path": POISON if kind_of(n) == "poison" else f"/item/{n}",
            "status": STATUSES[n % len(STATUSES)],
            "bytes": n * 7 % 50000 + 1,
            "user_agent": f"it/1.0 (n={n})"}


def line_for(n):
    if kind_of(n) == "garbage":
        variant = n // 100 % 3
        if variant == 0:
            return f"garbage line {n} without any structure"
        if variant == 1:  # cut in the middle of the request
            return f'10.0.0.1 - - [30/Nov/2026:10:00:00 +0000] "GET /item/{n}'
        return json.dumps({"n": n, "not": "an access log line"})
    f = expected_fields(n)
    ts = (f"{1 + n % 28:02d}/{MONTHS[n % 12]}/2026:"
          f"{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}")
    return (f'{f["client_ip"]} - - [{ts} +0000] "{f["method"]} {f["path"]} HTTP/1.1" '
            f'{f["status"]} {f["bytes"]} "-" "{f["user_agent"]}"')


def doc_id(seq):
    return f"{STREAM}-{seq}"


class Producer:
    """Puts lines n = 0, 1, 2, ... with PutRecords over the raw JSON client; never sends a line
    twice, so each line is in the stream at most once. `acked`: n -> (shard id, sequence number);
    `unknown`: lines sent without a positive answer (may or may not be in the stream)."""

    def __init__(self, server, total, batch=500, pace_s=0.0):
        self.server, self.total, self.batch, self.pace_s = server, total, batch, pace_s
        self.lock = threading.Lock()
        self.acked = {}       # GUARDED_BY lock
        self.unknown = set()  # GUARDED_BY lock
        self.errors = collections.Counter()  # GUARDED_BY lock
        self.next_n = 0

    def snapshot(self):
        with self.lock:
            return dict(self.acked), set(self.unknown)

    def run(self, stop=None):
        stop = stop or threading.Event()
        client, port = None, None
        while self.next_n < self.total and not stop.is_set():
            if self.server.port != port:
                if client is not None:
                    client.close()
                port = self.server.port
                client = harness.RawKinesis("127.0.0.1", port, timeout=20)
            batch = list(range(self.next_n, min(self.total, self.next_n + self.batch)))
            self.next_n = batch[-1] + 1
            body = {"StreamName": STREAM, "Records": [
                {"Data": harness.b64(line_for(n).encode()), "PartitionKey": f"pk-{n}"}
                for n in batch]}
            sent_at = time.monotonic()
            try:
                status, resp = client.call("PutRecords", body)
            except TRANSPORT_ERRORS as e:
                with self.lock:
                    self.unknown.update(batch)
                    self.errors[type(e).__name__] += 1
                stop.wait(0.02)  # the server is down: back off before the next batch
                continue
            with self.lock:
                if status != 200:
                    self.unknown.update(batch)
                    self.errors[(resp or {}).get("__type", f"HTTP {status}")] += 1
                    continue
                for n, res in zip(batch, resp["Records"]):
                    if "SequenceNumber" in res:
                        self.acked[n] = (res["ShardId"], res["SequenceNumber"])
                    else:
                        self.unknown.add(n)
                        self.errors[res.get("ErrorCode", "?")] += 1
            if self.pace_s:
                stop.wait(max(0.0, sent_at + self.pace_s - time.monotonic()))
        if client is not None:
            client.close()


# ---- server side helpers ------------------------------------------------------------------------

def write_config(server, fake_url, retry_duration_s):
    config = os.path.join(server.workdir, "tideline.yaml")
    with open(config, "w") as f:
        f.write(f"""
pipelines:
  - name: {PIPELINE}
    source:
      stream: {STREAM}
    processors:
      - type: access_log
    buffer:
      interval_s: 1
      size_mib: 1
    destination:
      opensearch:
        url: {fake_url}
        index: {INDEX}
        rotation: NoRotation
        document_id: stable
        retry_duration_s: {retry_duration_s}
        concurrency: 2
        gzip: false
    backup:
      path: ./backup
      mode: FailedDocumentsOnly
""")
    return config


def prometheus(server):
    """{'name{labels}': value} of GET /metrics."""
    with urllib.request.urlopen(f"{server.endpoint}/metrics", timeout=10) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def backup_dir(server):
    return os.path.join(server.workdir, "backup")


def backup_lines(server, kind):
    """(path, parsed line) of every line of BACKUP/weblogs/<kind>/*.ndjson (top level only)."""
    out = []
    for path in sorted(glob.glob(os.path.join(backup_dir(server), PIPELINE, kind, "*.ndjson"))):
        with open(path) as f:
            for number, line in enumerate(f, 1):
                try:
                    out.append((path, json.loads(line)))
                except ValueError as e:
                    raise AssertionError(f"{path}:{number} is not JSON ({e}): {line[:200]!r}")
    return out


def caught_up(status, producer_acked):
    """The pipeline has read, delivered or backed up and checkpointed everything in the stream,
    including every acknowledged record."""
    shards = {s["shardId"]: s for s in status["shards"]}
    if status["state"] != "running" or status["bufferedRecords"] != 0 or len(shards) != SHARDS:
        return False
    if any(s["checkpointOffset"] != s["lastOffset"] for s in shards.values()):
        return False
    last_acked = collections.defaultdict(int)
    for shard, seq in producer_acked.values():
        last_acked[shard] = max(last_acked[shard], seq_offset(seq))
    return all(shards[sid]["checkpointOffset"] >= off if sid in shards else False
               for sid, off in last_acked.items())


class OpenSearchTestCase(unittest.TestCase):
    """A fake OpenSearch and a tideline server whose pipeline delivers into it."""

    retry_duration_s = 300

    def setUp(self):
        self.fake = FakeOpenSearch(SEED + zlib.crc32(self._testMethodName.encode()) % 1000,
                                   name=f"fake-{self._testMethodName}")
        self.fake.start()
        self.server = harness.TidelineServer(name="opensearch-drill")
        config = write_config(self.server, self.fake.url, self.retry_duration_s)
        self.server.extra_args = ["--config", config]
        self.server.start()
        status, r = self.server.raw_client().call("CreateStream",
                                                  {"StreamName": STREAM, "ShardCount": SHARDS})
        self.assertEqual(status, 200, r)
        harness.wait_stream_active(self.server.boto3_client(), STREAM)
        self.started = time.monotonic()

    def tearDown(self):
        print(f"  [{self._testMethodName}: {time.monotonic() - self.started:.1f} s]", flush=True)
        keep = os.environ.get("TIDELINE_IT_KEEP_LOGS")  # a directory to copy the logs into
        if keep:
            target = os.path.join(keep, f"{self._testMethodName}-{int(time.time())}")
            os.makedirs(target, exist_ok=True)
            for path in (self.server.log_path, self.fake.log_path):
                if os.path.exists(path):
                    shutil.copy(path, target)
        self.server.cleanup()
        self.fake.cleanup()

    def logs(self):
        return f"\n{self.server.log_tail()}\n{self.fake.log_tail(10)}"

    def wait_caught_up(self, producer_acked, deadline_s, what, fake_up=True):
        deadline_s = harness.scaled(deadline_s)
        deadline = time.monotonic() + deadline_s
        while True:
            self.assertTrue(self.server.alive(), f"{what}: the server died" + self.logs())
            if fake_up and not self.fake.alive():  # SIGTERM makes the fake exit 0
                self.fail(f"{what}: the fake OpenSearch exited with {self.fake.proc.returncode} "
                          "without the test stopping it (killed from outside?)" + self.logs())
            status = self.server.pipeline_status(PIPELINE)
            if caught_up(status, producer_acked):
                return status
            if time.monotonic() > deadline:
                brief = {k: status[k] for k in ("state", "message", "bufferedRecords",
                                                "backup", "delivery")}
                shards = [{k: s[k] for k in ("shardId", "checkpointOffset", "lastOffset")}
                          for s in status["shards"]]
                self.fail(f"{what}: the pipeline did not catch up within {deadline_s}s: "
                          f"{brief} {shards}" + self.logs())
            time.sleep(0.2)  # polling the status with a deadline

    # ---- the invariant ----------------------------------------------------------------------

    def check_exactly_once_or_backup(self, acked, unknown, backup_dups_ok):
        """Every acknowledged record is where it belongs, once; a record whose PutRecords got no
        answer (`unknown`) may be anywhere, but at most once in the index. Returns (acknowledged
        lines by kind, indexed in-flight lines, opensearch-failed lines, processing-failed
        lines)."""
        docs = self.fake.docs()
        failed = backup_lines(self.server, "opensearch-failed")
        processing = backup_lines(self.server, "processing-failed")
        problems = collections.defaultdict(list)

        ids = collections.Counter(d["_id"] for d in docs)
        problems["ids stored twice in the index"] = [i for i, c in ids.items() if c > 1]
        problems["documents written more than once (writes != 1)"] = [
            (d["_id"], d["writes"]) for d in docs if d["writes"] != 1]
        by_id = {d["_id"]: d for d in docs}
        seq_to_n = {seq: n for n, (_, seq) in acked.items()}

        ids_of_line = collections.defaultdict(list)
        extra = 0
        for d in docs:
            m = UA_N.search(str(d["_source"].get("user_agent", "")))
            if m is None:
                problems["documents that are no line of the test"].append(d)
                continue
            n = int(m.group(1))
            ids_of_line[n].append(d["_id"])
            seq = d["_id"][len(STREAM) + 1:] if d["_id"].startswith(STREAM + "-") else None
            if seq in seq_to_n:
                if seq_to_n[seq] != n:
                    problems["documents under another line's id"].append((d["_id"], n))
            elif n in unknown:
                extra += 1  # sent without an answer: it may be there (once)
            else:
                problems["documents of no acknowledged or in-flight line"].append((d["_id"], n))
        problems["lines indexed under two ids"] = [(n, v) for n, v in ids_of_line.items()
                                                   if len(v) > 1]

        failed_by_id = collections.defaultdict(list)
        for path, f in failed:
            failed_by_id[f.get("esDocumentId")].append((path, f))
        processing_by_seq = collections.defaultdict(list)
        for path, f in processing:
            processing_by_seq[f["kinesisRecordMetadata"]["sequenceNumber"]].append((path, f))

        counts = collections.Counter()
        for n, (shard, seq) in sorted(acked.items()):
            kind, i = kind_of(n), doc_id(seq)
            counts[kind] += 1
            in_failed = failed_by_id.get(i, [])
            in_processing = processing_by_seq.get(seq, [])
            if kind == "normal":
                d = by_id.get(i)
                if d is None:
                    problems["acknowledged lines missing from the index"].append((n, i))
                else:
                    want = expected_fields(n)
                    got = {k: d["_source"].get(k) for k in want}
                    if got != want:
                        problems["documents with wrong fields"].append((i, got, want))
                if in_failed:
                    problems["indexed lines also in opensearch-failed"].append(
                        (n, i, [f["errorCode"] for _, f in in_failed]))
                if in_processing:
                    problems["parsed lines in processing-failed"].append((n, seq))
            elif kind == "poison":
                if i in by_id:
                    problems["poison lines indexed (the fake refuses them)"].append((n, i))
                if not in_failed:
                    problems["refused documents missing from opensearch-failed"].append((n, i))
                elif len(in_failed) > 1 and not backup_dups_ok:
                    problems["refused documents backed up more than once"].append(
                        (n, i, len(in_failed)))
                for path, f in in_failed:
                    raw = json.loads(base64.b64decode(f["rawData"]))
                    if (f["errorCode"] != "400" or f["esIndexName"] != INDEX
                            or "mapper_parsing_exception" not in f["errorMessage"]
                            or {k: raw.get(k) for k in expected_fields(n)} != expected_fields(n)):
                        problems["wrong opensearch-failed entries"].append(
                            (os.path.basename(path), {k: v for k, v in f.items()
                                                      if k != "rawData"}, raw))
                if in_processing:
                    problems["parsed lines in processing-failed"].append((n, seq))
            else:
                if i in by_id or in_failed:
                    problems["garbage lines indexed or in opensearch-failed"].append((n, i))
                if not in_processing:
                    problems["garbage lines missing from processing-failed"].append((n, seq))
                elif len(in_processing) > 1 and not backup_dups_ok:
                    problems["garbage lines backed up more than once"].append(
                        (n, len(in_processing)))
                for path, f in in_processing:
                    if (f["errorCode"] != "AccessLog.ParseFailed"
                            or base64.b64decode(f["rawData"]).decode() != line_for(n)
                            or f["kinesisRecordMetadata"]["shardId"] != shard):
                        problems["wrong processing-failed entries"].append(
                            (os.path.basename(path), f))

        acked_ids = {doc_id(seq) for _, seq in acked.values()}
        for i, entries in failed_by_id.items():
            if i not in acked_ids:
                n = int(UA_N.search(json.loads(base64.b64decode(entries[0][1]["rawData"]))
                                    .get("user_agent", "")).group(1))
                if n not in unknown or kind_of(n) != "poison":
                    problems["opensearch-failed entries of no refused line"].append((i, n))

        problems = {k: v for k, v in problems.items() if v}
        if problems:
            report = "\n".join(f"  {k}: {len(v)}, e.g. {v[:5]}" for k, v in problems.items())
            self.fail(f"the index and the backup do not hold every record once:\n{report}\n"
                      f"(acked {dict(counts)}, unknown {len(unknown)}, docs {len(docs)}, "
                      f"opensearch-failed lines {len(failed)}, processing-failed lines "
                      f"{len(processing)})" + self.logs())
        self.assertEqual(len(docs), counts["normal"] + extra,
                         "the index holds exactly the acknowledged parseable lines (and in-flight "
                         "ones at most once)")
        return counts, extra, len(failed), len(processing)


# ---- 1. faults, no crash ------------------------------------------------------------------------

class FaultsTest(OpenSearchTestCase):
    TOTAL = 100_000

    def test_faults_every_record_indexed_once_or_backed_up(self):
        self.fake.set_faults(**FAULTS)
        # About 3k records/s for half a minute: many flushes (and bulk requests) under the faults,
        # while delivery runs.
        producer = Producer(self.server, self.TOTAL, batch=500, pace_s=0.16)
        t0 = time.monotonic()
        producer.run()
        acked, unknown = producer.snapshot()
        print(f"  produced {len(acked)} records in {time.monotonic() - t0:.1f} s "
              f"(errors {dict(producer.errors)})", flush=True)
        self.assertTrue(self.server.alive(), "the server died while records were put"
                        + self.logs())
        self.assertGreaterEqual(len(acked), self.TOTAL * 0.99,
                                f"PutRecords refused too much: {dict(producer.errors)}"
                                + self.logs())
        self.assertEqual(unknown, set(), "no PutRecords may fail without a crash: "
                         f"{dict(producer.errors)}")

        status = self.wait_caught_up(acked, 300, "after 100k records")
        print(f"  caught up {time.monotonic() - t0:.1f} s after the first put", flush=True)
        counts, extra, n_failed, n_processing = self.check_exactly_once_or_backup(
            acked, unknown, backup_dups_ok=False)
        self.assertEqual(extra, 0)
        self.assertEqual((n_failed, n_processing), (counts["poison"], counts["garbage"]),
                         "every backup line belongs to one refused or unparseable record")

        # The faults really happened, and the fake agrees with what the index holds.
        stats = self.fake.stats()
        print(f"  fake: {stats}", flush=True)
        for fault in ("item_429", "request_503", "lost_ack", "mapping_error"):
            self.assertGreater(stats["faults"][fault], 0, f"no {fault} was injected: {stats}")
        self.assertEqual(stats["items_by_status"].get("201"), counts["normal"],
                         f"each document is created once: {stats}")
        self.assertEqual(stats["documents"], counts["normal"])

        # The pipeline's own account: per shard, in the backup summary, in delivery counters.
        shards = status["shards"]
        total = lambda key: sum(s[key] for s in shards)  # noqa: E731
        self.assertEqual(total("lastOffset"), len(acked))
        self.assertEqual(total("recordsRead"), len(acked), shards)
        self.assertEqual(total("recordsDelivered"), counts["normal"], shards)
        self.assertEqual(total("recordsDeliveryFailed"), counts["poison"], shards)
        self.assertEqual(total("recordsProcessingFailed"), counts["garbage"], shards)
        self.assertEqual(status["backup"]["deliveryFailed"], counts["poison"], status["backup"])
        self.assertEqual(status["backup"]["processingFailed"], counts["garbage"],
                         status["backup"])
        self.assertEqual(status["backup"]["allDocuments"], 0, status["backup"])
        self.assertEqual(status["dataFreshnessMs"], 0, "nothing is waiting for delivery")
        delivery = status["delivery"]
        print(f"  tideline delivery: {delivery}", flush=True)
        by_status = delivery["documentsByStatus"]
        self.assertGreater(delivery["requests"], 0, delivery)
        self.assertGreater(delivery["requestFailures"], 0, "503s and lost acks fail requests")
        self.assertGreater(delivery["documentsRetried"], 0, delivery)
        # libcurl sends a request again by itself when a reused connection closes without an
        # answer (a lost ack): the fake can count more requests than tideline, never fewer.
        self.assertLessEqual(delivery["requests"], stats["bulk_requests"],
                             "tideline counts bulk requests the cluster never received")
        self.assertGreaterEqual(delivery["requestFailures"], stats["faults"]["request_503"])
        self.assertLessEqual(by_status.get("201", 0), counts["normal"], by_status)
        self.assertGreaterEqual(by_status.get("201", 0) + by_status.get("409", 0),
                                counts["normal"], by_status)
        self.assertGreater(by_status.get("409", 0), 0, "lost acks make creates answer 409")
        self.assertGreaterEqual(by_status.get("400", 0), counts["poison"], by_status)
        self.assertGreater(by_status.get("429", 0), 0, by_status)
        self.assertLessEqual(by_status.get("429", 0), stats["faults"]["item_429"], by_status)

        # /metrics says the same as the status.
        m = prometheus(self.server)
        lbl = f'{{pipeline="{PIPELINE}",destination="opensearch"}}'
        for metric, key in (("requests_total", "requests"),
                            ("request_failures_total", "requestFailures"),
                            ("documents_retried_total", "documentsRetried"),
                            ("bytes_sent_total", "bytesSent")):
            name = f"tideline_pipeline_delivery_{metric}{lbl}"
            self.assertIn(name, m)
            self.assertEqual(m[name], delivery[key], name)
        for code, n in by_status.items():
            name = (f'tideline_pipeline_delivery_documents_total{{pipeline="{PIPELINE}",'
                    f'destination="opensearch",status="{code}"}}')
            self.assertEqual(m.get(name), n, name)
        self.assertEqual(m.get(f'tideline_pipeline_data_freshness_ms{{pipeline="{PIPELINE}"}}'),
                         0)
        self.assertEqual(
            m.get(f'tideline_pipeline_backup_documents_total{{pipeline="{PIPELINE}",'
                  f'kind="delivery-failed"}}'), counts["poison"])
        self.assertEqual(self.server.stop(), 0, self.server.log_tail())


# ---- 2. faults and SIGKILLs ---------------------------------------------------------------------

class KillTest(OpenSearchTestCase):
    TOTAL = 30_000
    KILLS = 10

    def check_checkpoints(self, acked, where):
        """Status first, index and backup second: every acknowledged record at or below its
        shard's checkpoint was indexed or backed up before the checkpoint moved."""
        deadline = time.monotonic() + harness.scaled(20)
        while True:  # the readers of a restarted pipeline report their shards a moment later
            status = self.server.pipeline_status(PIPELINE)
            if len(status["shards"]) == SHARDS:
                break
            self.assertLess(time.monotonic(), deadline, f"{where}: no shards in {status}")
            time.sleep(0.05)  # polling the status with a deadline
        checkpoint = {s["shardId"]: s["checkpointOffset"] for s in status["shards"]}
        ids = {d["_id"] for d in self.fake.docs()}
        failed = {f["esDocumentId"] for _, f in backup_lines(self.server, "opensearch-failed")}
        processing = {f["kinesisRecordMetadata"]["sequenceNumber"]
                      for _, f in backup_lines(self.server, "processing-failed")}
        passed = [(n, shard, seq) for n, (shard, seq) in acked.items()
                  if seq_offset(seq) <= checkpoint.get(shard, 0)
                  and doc_id(seq) not in ids and doc_id(seq) not in failed
                  and seq not in processing]
        self.assertEqual(passed[:10], [], f"{where}: {len(passed)} records at or below their "
                         f"shard's checkpoint {checkpoint} are neither indexed nor backed up"
                         + self.logs())
        return sum(checkpoint.values())

    def test_sigkill_mid_delivery_ten_times(self):
        self.fake.set_faults(**FAULTS)
        rng = random.Random(SEED + 2)
        # About 1.5k records/s: production lasts about as long as the kills.
        producer = Producer(self.server, self.TOTAL, batch=150, pace_s=0.1)
        stop = threading.Event()
        thread = threading.Thread(target=producer.run, args=(stop,), daemon=True)
        thread.start()
        mid_delivery, checkpointed = 0, 0
        try:
            for k in range(self.KILLS):
                # Kill while this run of the server is delivering: once it has sent a bulk
                # request (or after 15 s without one), a random moment later.
                deadline = time.monotonic() + harness.scaled(15)
                while time.monotonic() < deadline:
                    if self.server.pipeline_status(PIPELINE)["delivery"]["requests"] > 0:
                        mid_delivery += 1
                        break
                    time.sleep(0.05)  # polling the status with a deadline
                stop.wait(rng.uniform(0.0, 1.5))  # a random moment, not a synchronization
                self.assertTrue(self.fake.alive(), "the fake OpenSearch died" + self.logs())
                self.server.kill()
                self.server.start()
                acked, _ = producer.snapshot()
                checkpointed = max(checkpointed,
                                   self.check_checkpoints(acked, f"after kill {k + 1}"))
        except BaseException:
            stop.set()  # leaving by an exception: stop the producer early
            raise
        finally:
            thread.join(timeout=120)
        self.assertFalse(thread.is_alive(), "the producer did not finish")
        acked, unknown = producer.snapshot()
        print(f"  acked {len(acked)}, unknown {len(unknown)}, errors {dict(producer.errors)}, "
              f"kills mid-delivery {mid_delivery}/{self.KILLS}", flush=True)
        self.assertGreater(checkpointed, 0, "the pipeline never checkpointed between kills")
        self.assertGreaterEqual(mid_delivery, self.KILLS // 2,
                                "most kills must hit a server that was delivering")
        self.assertGreater(len(acked), self.TOTAL // 2, "the producer got too little through")

        self.wait_caught_up(acked, 240, "after the kills")
        self.check_checkpoints(acked, "at the end")
        counts, extra, n_failed, n_processing = self.check_exactly_once_or_backup(
            acked, unknown, backup_dups_ok=True)
        stats = self.fake.stats()
        print(f"  indexed {counts['normal']} (+{extra} in flight), backup lines: "
              f"opensearch-failed {n_failed} for {counts['poison']} refused, processing-failed "
              f"{n_processing} for {counts['garbage']} garbage; fake {stats}", flush=True)
        # Per-item faults are certain at this size; a whole-request fault only very likely
        # (a run makes ~80 bulk requests).
        for fault in ("item_429", "mapping_error"):
            self.assertGreater(stats["faults"][fault], 0, f"no {fault} was injected: {stats}")
        self.assertGreater(stats["faults"]["request_503"] + stats["faults"]["lost_ack"], 0,
                           stats)
        self.assertEqual(self.server.stop(), 0, self.server.log_tail())


# ---- 3. OpenSearch down, then redrive -----------------------------------------------------------

class DownThenRedriveTest(OpenSearchTestCase):
    retry_duration_s = 3
    TOTAL = 5_000

    def tideline(self, *args, timeout=300):
        p = subprocess.run([harness.TIDELINE_BINARY] + list(args), capture_output=True,
                           text=True, timeout=timeout, cwd=self.server.workdir)
        return p.returncode, p.stdout + p.stderr

    def test_opensearch_down_longer_than_retry_duration_then_redrive(self):
        code, out = self.tideline("--help")
        self.assertIn("backup", out, "this tideline binary has no `backup` command yet")

        # First half: the cluster accepts connections and answers nothing; second half: nothing
        # listens at all. Both outlast retry_duration_s.
        self.fake.set_faults(down=True)
        producer = Producer(self.server, self.TOTAL // 2, batch=500)
        producer.run()
        self.wait_caught_up(producer.snapshot()[0], 120, "while OpenSearch answers nothing")
        self.fake.stop()
        producer.total = self.TOTAL
        producer.run()
        acked, unknown = producer.snapshot()
        self.assertEqual((len(acked), unknown), (self.TOTAL, set()), dict(producer.errors))
        status = self.wait_caught_up(acked, 120, "while OpenSearch is stopped", fake_up=False)

        self.assertEqual(self.server.health_status(), 200)
        self.assertEqual(status["state"], "running", status["message"])
        parsed = {n: seq for n, (_, seq) in acked.items() if kind_of(n) != "garbage"}
        garbage = len(acked) - len(parsed)
        failed = backup_lines(self.server, "opensearch-failed")
        by_id = collections.Counter(f["esDocumentId"] for _, f in failed)
        missing = [(n, doc_id(seq)) for n, seq in parsed.items() if doc_id(seq) not in by_id]
        self.assertEqual(missing[:10], [], f"{len(missing)} parsed records are not in the backup")
        self.assertEqual(sum(by_id.values()), len(parsed),
                         f"backed up more than once: {[i for i, c in by_id.items() if c > 1][:5]}")
        codes = collections.Counter(f["errorCode"] for _, f in failed)
        attempts = collections.Counter(f["attemptsMade"] for _, f in failed)
        print(f"  backup error codes: {dict(codes)}, attemptsMade: {dict(attempts)}, e.g. "
              f"{ {k: v for k, v in failed[0][1].items() if k != 'rawData'} }", flush=True)
        self.assertTrue(all(c.startswith("OS.") for c in codes), codes)
        self.assertIn("OS.ConnectionFailed", codes)
        for _, f in failed:  # retried for retry_duration_s, then backed up
            self.assertEqual(f["esIndexName"], INDEX, f)
            self.assertGreaterEqual(f["attemptsMade"], 2, f)
            self.assertGreaterEqual(f["attemptEndingTimestamp"] - f["arrivalTimestamp"],
                                    self.retry_duration_s * 1000, f)
        self.assertEqual(status["backup"]["deliveryFailed"], len(parsed), status["backup"])
        self.assertEqual(status["backup"]["processingFailed"], garbage, status["backup"])
        self.assertEqual(sum(s["recordsDeliveryFailed"] for s in status["shards"]), len(parsed))
        self.assertEqual(status["dataFreshnessMs"], 0)

        # OpenSearch comes back on the same address, flaky: the redrive must retry.
        self.fake.start()
        self.assertEqual(self.fake.docs(), [], "the index is empty")
        self.fake.set_faults(item_429_rate=0.10, request_503_rate=0.05, lost_ack_rate=0.02)
        bdir = backup_dir(self.server)
        pdir = os.path.join(bdir, PIPELINE)
        originals = {}
        for path in glob.glob(os.path.join(pdir, "opensearch-failed", "*.ndjson")):
            with open(path, "rb") as f:
                originals[path] = f.read()
        processing_files = sorted(glob.glob(os.path.join(pdir, "processing-failed", "*.ndjson")))
        self.assertTrue(originals and processing_files)

        code, out = self.tideline("backup", "list", "--backup-dir", bdir)
        print("  backup list:\n    " + "\n    ".join(out.splitlines()[:8]), flush=True)
        self.assertEqual(code, 0, out)
        for path in list(originals) + processing_files:
            self.assertIn(os.path.basename(path), out, "`backup list` names every file")

        code, out = self.tideline("backup", "redrive", pdir, "--url", self.fake.url,
                                  "--retry-duration", "120")
        print("  redrive output (tail):\n    " + "\n    ".join(out.splitlines()[-6:]),
              flush=True)
        self.assertEqual(code, 0, f"redrive failed:\n{out}" + self.logs())

        docs = self.fake.docs()
        ids = collections.Counter(d["_id"] for d in docs)
        want = {doc_id(seq): n for n, seq in parsed.items()}
        self.assertEqual([i for i in want if i not in ids][:10], [], "redriven but not indexed")
        self.assertEqual([i for i in ids if i not in want][:10], [], "indexed but never backed up")
        self.assertEqual([d["_id"] for d in docs if d["writes"] != 1][:10], [],
                         "a redriven document was written twice")
        self.assertEqual(len(docs), len(want))
        for d in docs:
            want_fields = expected_fields(want[d["_id"]])
            self.assertEqual({k: d["_source"].get(k) for k in want_fields}, want_fields, d)
        stats = self.fake.stats()
        self.assertGreater(stats["faults"]["item_429"], 0, stats)

        for path, content in originals.items():
            moved = os.path.join(os.path.dirname(path), "redriven", os.path.basename(path))
            self.assertFalse(os.path.exists(path), f"{path} was not moved after the redrive")
            self.assertTrue(os.path.exists(moved), f"{moved} is missing")
            with open(moved, "rb") as f:
                self.assertEqual(f.read(), content, f"{moved} changed")
        leftovers = [p for p in glob.glob(os.path.join(pdir, "**", "redrive-failed-*.ndjson"),
                                          recursive=True) if os.path.getsize(p) > 0]
        self.assertEqual(leftovers, [], "nothing failed again")
        for path in processing_files:
            self.assertTrue(os.path.exists(path), f"processing-failed file {path} was touched")

        # A second redrive has nothing left to send.
        self.fake.set_faults()
        before = self.fake.stats()["bulk_requests"]
        code, out2 = self.tideline("backup", "redrive", pdir, "--url", self.fake.url)
        self.assertEqual(code, 0, f"second redrive:\n{out2}")
        self.assertEqual(self.fake.stats()["bulk_requests"], before,
                         f"the second redrive sent documents again:\n{out2}")
        self.assertEqual(len(self.fake.docs()), len(want))

        self.assertEqual(self.server.health_status(), 200)
        self.assertEqual(self.server.stop(), 0, self.server.log_tail())


if __name__ == "__main__":
    harness.main()
