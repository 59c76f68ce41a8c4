#!/usr/bin/env python3
"""The `tideline` binary's client commands against a real server (one server for every test, with
a pipeline delivering into the fake OpenSearch of tests/tools/fake_opensearch.py):

  * put: lines batched into PutRecords, the summary line, records a PutRecords answer marks as
    failed sent again (a proxy in front of the server fails some on purpose), a request the
    server refuses as a whole retried, and giving up after 10 attempts;
  * get: replay, --limit, --format json (data_base64 for data that is not UTF-8), --at-seq and
    --after-seq without --shard, --follow printing records as they arrive and stopping at --limit;
  * stream create/list/describe/delete;
  * pipeline list/status/reset;
  * backup list DIR, backup redrive DIR --config FILE --pipeline NAME;
  * the error message and exit code of a missing stream or pipeline, an unreachable server and
    bad arguments (1: the command failed, 2: usage).

Run: python3 test_cli.py --tideline build/cli/tideline [TestClass.test_name]
"""

import base64
import http.client
import http.server
import json
import os
import re
import select
import subprocess
import threading
import time
import unittest

import harness
import test_opensearch_delivery as osd

PIPELINE = "clipipe"
PIPE_STREAM = "clipipe-src"
INDEX = "cli-index"
POISON = "POISON"  # the fake refuses a document with this top-level value (mapping error)
EXIT_FAILURE, EXIT_USAGE = 1, 2


def write_config(workdir, fake_url):
    path = os.path.join(workdir, "tideline.yaml")
    with open(path, "w") as f:
        f.write(f"""
pipelines:
  - name: {PIPELINE}
    source:
      stream: {PIPE_STREAM}
    processors:
      - type: json
    buffer:
      interval_s: 0
      size_mib: 1
    destination:
      opensearch:
        url: {fake_url}
        index: {INDEX}
        rotation: NoRotation
        document_id: stable
        retry_duration_s: 1
    backup:
      path: ./backup
""")
    return path


class FlakyProxy:
    """An HTTP proxy in front of the server that fails PutRecords on purpose. `plan(n, count)` is
    asked for the n-th PutRecords request (1-based) of `count` records and answers None (forward
    it), an int HTTP status (answer that status with a ServiceUnavailable body, send nothing on)
    or a set of record indexes to fail with ProvisionedThroughputExceededException (the others
    are forwarded in one PutRecords, and the answers merged in order)."""

    def __init__(self, upstream_port, plan):
        self.upstream_port, self.plan = upstream_port, plan
        self.lock = threading.Lock()
        self.put_requests = 0      # GUARDED_BY lock
        self.failed_records = 0    # GUARDED_BY lock
        self.refused_requests = 0  # GUARDED_BY lock
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                target = self.headers.get("X-Amz-Target", "")
                status, payload = proxy.handle(target, body)
                self.send_response(status)
                self.send_header("Content-Type", harness.CONTENT_TYPE)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def forward(self, target, body):
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=30)
        try:
            conn.request("POST", "/", body=body, headers={"X-Amz-Target": target,
                                                          "Content-Type": harness.CONTENT_TYPE})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def handle(self, target, body):
        if not target.endswith(".PutRecords"):
            return self.forward(target, body)
        request = json.loads(body)
        records = request["Records"]
        with self.lock:
            self.put_requests += 1
            decision = self.plan(self.put_requests, len(records))
            if isinstance(decision, int):
                self.refused_requests += 1
            elif decision:
                self.failed_records += len(decision)
        if decision is None:
            return self.forward(target, body)
        if isinstance(decision, int):
            return decision, json.dumps({"__type": "ServiceUnavailable",
                                         "message": "refused on purpose"}).encode()
        passed = [r for i, r in enumerate(records) if i not in decision]
        answers = iter([])
        if passed:
            status, data = self.forward(target, json.dumps(
                {"StreamName": request["StreamName"], "Records": passed}).encode())
            if status != 200:
                return status, data
            answers = iter(json.loads(data)["Records"])
        merged = [{"ErrorCode": "ProvisionedThroughputExceededException",
                   "ErrorMessage": "Rate exceeded for shard on purpose"} if i in decision
                  else next(answers) for i in range(len(records))]
        failed = sum(1 for m in merged if "ErrorCode" in m)
        return 200, json.dumps({"FailedRecordCount": failed, "Records": merged}).encode()


class CliTest(unittest.TestCase):
    """One server (with the pipeline) and one fake OpenSearch for every test."""

    @classmethod
    def setUpClass(cls):
        cls.fake = osd.FakeOpenSearch(4242, name="fake-cli")
        cls.fake.start()
        cls.server = harness.TidelineServer(name="cli")
        cls.config = write_config(cls.server.workdir, cls.fake.url)
        cls.server.extra_args = ["--config", cls.config]
        cls.server.start()
        cls.client = cls.server.boto3_client()

    @classmethod
    def tearDownClass(cls):
        harness.stop_and_clean(cls.server, cls.fake.cleanup)

    def setUp(self):
        self.started = time.monotonic()

    def tearDown(self):
        print(f"  [{self._testMethodName}: {time.monotonic() - self.started:.1f} s]", flush=True)
        self.assertTrue(self.server.alive(), "the server died\n" + self.server.log_tail())

    # ---- helpers ------------------------------------------------------------------------------

    def tideline(self, *args, stdin="", endpoint=True, timeout=120):
        """Runs the binary; returns (exit code, stdout, stderr)."""
        cmd = [harness.TIDELINE_BINARY] + list(args)
        if endpoint is True:
            cmd += ["--endpoint", self.server.endpoint]
        elif endpoint:
            cmd += ["--endpoint", endpoint]
        env = {k: v for k, v in os.environ.items() if k != "TIDELINE_ENDPOINT"}
        p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout,
                           cwd=self.server.workdir, env=env)
        return p.returncode, p.stdout, p.stderr

    def ok(self, *args, **kw):
        code, out, err = self.tideline(*args, **kw)
        self.assertEqual(code, 0, f"tideline {' '.join(args)}: {out}{err}")
        return out

    def create_stream(self, name, shards=1):
        out = self.ok("stream", "create", name, "--shards", str(shards))
        self.assertEqual(out, f"created stream {name} with {shards} "
                              f"{'shard' if shards == 1 else 'shards'}, retention 24 hours\n")

    def stream_data(self, name):
        """Every record's data in the stream (all shards), read with boto3."""
        data = []
        for shard in self.client.list_shards(StreamName=name)["Shards"]:
            it = self.client.get_shard_iterator(StreamName=name, ShardId=shard["ShardId"],
                                                ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            records, _ = harness.read_shard(self.client, it)
            data += [r["Data"].decode() for r in records]
        return data

    def assert_fails(self, args, code, message, endpoint=True):
        rc, out, err = self.tideline(*args, endpoint=endpoint)
        self.assertEqual(rc, code, f"tideline {' '.join(args)}: {out}{err}")
        self.assertIn(message, err, f"tideline {' '.join(args)}")
        return out, err

    # ---- put ----------------------------------------------------------------------------------

    def test_put_batches_lines_and_prints_a_summary(self):
        self.create_stream("cli-put", shards=4)
        # 1200 lines of 1 KiB: three PutRecords of at most 500 records (and 5 MiB) each.
        lines = [f"{n:06d}-" + "x" * 1017 for n in range(1200)]
        proxy = FlakyProxy(self.server.port, lambda n, count: None)
        try:
            code, out, err = self.tideline("put", "cli-put", "--no-progress",
                                           stdin="\n".join(lines[:600]) + "\n\n\r\n" +
                                           "\n".join(lines[600:]) + "\n",
                                           endpoint=proxy.endpoint)
        finally:
            proxy.close()
        self.assertEqual(code, 0, out + err)
        self.assertRegex(out, r"^put 1200 records \(1\.2 MiB\) to cli-put in [0-9.]+ s "
                              r"\([0-9]+ records/s\), 2 empty lines skipped\n$")
        self.assertEqual(proxy.put_requests, 3, "500 records a PutRecords: 500 + 500 + 200")
        self.assertEqual(sorted(self.stream_data("cli-put")), lines)

    def test_put_sends_failed_records_again_until_they_are_stored(self):
        self.create_stream("cli-retry", shards=2)
        lines = [f"line-{n}" for n in range(700)]

        def plan(n, count):
            if n == 1:
                return 503  # the whole first request is refused: sent again as it was
            if n in (2, 3):
                return set(range(0, count, 3))  # every third record fails, twice in a row
            return None

        proxy = FlakyProxy(self.server.port, plan)
        try:
            code, out, err = self.tideline("put", "cli-retry", "--no-progress",
                                           stdin="\n".join(lines) + "\n",
                                           endpoint=proxy.endpoint)
        finally:
            proxy.close()
        self.assertEqual(code, 0, out + err)
        self.assertEqual(proxy.refused_requests, 1)
        # Request 2: 500 records, 167 fail; request 3 re-sends those 167, 56 fail again.
        self.assertEqual(proxy.failed_records, 167 + 56)
        self.assertIn("put 700 records", out)
        self.assertIn(f", {167 + 56} retried", out)
        data = self.stream_data("cli-retry")
        self.assertEqual(sorted(data), sorted(lines), "every line stored")
        self.assertEqual(len(data), len(set(data)), "and stored once")

    def test_put_gives_up_on_records_that_keep_failing(self):
        self.create_stream("cli-giveup")
        proxy = FlakyProxy(self.server.port, lambda n, count: {0})  # the first record, always
        try:
            code, out, err = self.tideline("put", "cli-giveup", "--no-progress",
                                           stdin="doomed\nfine\n", endpoint=proxy.endpoint)
        finally:
            proxy.close()
        self.assertEqual(code, EXIT_FAILURE, out + err)
        self.assertEqual(proxy.put_requests, 10, "10 attempts")
        self.assertIn("put 1 records", out)
        self.assertIn("tideline: 1 records still failed after 10 attempts; last error "
                      "ProvisionedThroughputExceededException", err)
        self.assertEqual(self.stream_data("cli-giveup"), ["fine"])

    def test_put_errors(self):
        code, out, err = self.tideline("put", "no-such-stream", stdin="x\n")
        self.assertEqual(code, EXIT_FAILURE, out + err)
        self.assertIn("tideline: ResourceNotFoundException: Stream no-such-stream under account",
                      err)
        self.assert_fails(["put", "cli-any", "/no/such/file"], EXIT_USAGE,
                          "/no/such/file: cannot open")
        self.assert_fails(["put", "cli-any", "-k", ""], EXIT_USAGE,
                          "--partition-key: must be 1..256 characters")

    # ---- get ----------------------------------------------------------------------------------

    def test_get_replays_with_limit_and_json_format(self):
        self.create_stream("cli-get", shards=2)
        self.ok("put", "cli-get", "--no-progress", stdin="".join(f"g{n}\n" for n in range(40)))
        binary = self.client.put_record(StreamName="cli-get", Data=b"\xff\xfe\x00bin",
                                        PartitionKey="bin")
        # The data format prints each record's bytes as they are, one a line.
        p = subprocess.run([harness.TIDELINE_BINARY, "get", "cli-get", "--trim-horizon",
                            "--endpoint", self.server.endpoint], capture_output=True,
                           timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(sorted(p.stdout.split(b"\n")),
                         sorted([b""] + [f"g{n}".encode() for n in range(40)] +
                                [b"\xff\xfe\x00bin"]))

        out = self.ok("get", "cli-get", "--trim-horizon", "--format", "json")
        docs = [json.loads(line) for line in out.splitlines()]
        self.assertEqual(len(docs), 41)
        by_data = {d.get("data"): d for d in docs}
        self.assertEqual(set(by_data) - {None}, {f"g{n}" for n in range(40)})
        raw = [d for d in docs if "data_base64" in d]
        self.assertEqual(len(raw), 1, "data that is not UTF-8 is printed as data_base64")
        self.assertEqual(base64.b64decode(raw[0]["data_base64"]), b"\xff\xfe\x00bin")
        self.assertEqual(raw[0]["seq"], binary["SequenceNumber"])
        self.assertEqual(raw[0]["shard"], binary["ShardId"])
        self.assertEqual(raw[0]["partition_key"], "bin")
        self.assertRegex(raw[0]["arrival"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertEqual(set(docs[0]), {"seq", "shard", "partition_key", "arrival", "data"})

        out = self.ok("get", "cli-get", "--trim-horizon", "--limit", "7")
        self.assertEqual(len(out.splitlines()), 7)

    def test_get_at_and_after_a_sequence_number_finds_the_shard_itself(self):
        self.create_stream("cli-seq", shards=3)
        seqs = [self.client.put_record(StreamName="cli-seq", Data=f"s{n}".encode(),
                                       PartitionKey="same-key")
                for n in range(5)]
        shard = seqs[0]["ShardId"]
        for other in range(6):  # records in the other shards are not printed
            self.client.put_record(StreamName="cli-seq", Data=b"other",
                                   ExplicitHashKey=str(other * (2**128 // 6)),
                                   PartitionKey="o")
        out = self.ok("get", "cli-seq", "--at-seq", seqs[2]["SequenceNumber"], "--format", "json")
        docs = [json.loads(line) for line in out.splitlines()]
        self.assertEqual([d["data"] for d in docs if d["shard"] == shard][:3], ["s2", "s3", "s4"])
        self.assertEqual({d["shard"] for d in docs}, {shard}, "only the sequence number's shard")
        out = self.ok("get", "cli-seq", "--after-seq", seqs[2]["SequenceNumber"])
        self.assertEqual(out.splitlines()[:2], ["s3", "s4"])
        # A sequence number of no shard of this stream names the way out.
        self.assert_fails(["get", "cli-seq", "--at-seq", "1" + "0" * 40], EXIT_FAILURE,
                          "belongs to no shard of stream cli-seq; name the shard with --shard")

    def test_get_follow_prints_records_as_they_arrive_and_stops_at_the_limit(self):
        self.create_stream("cli-follow", shards=2)
        first = self.client.put_record(StreamName="cli-follow", Data=b"before",
                                       PartitionKey="k")
        proc = subprocess.Popen(
            [harness.TIDELINE_BINARY, "get", "cli-follow", "--after-seq",
             first["SequenceNumber"], "--follow", "--limit", "3", "--endpoint",
             self.server.endpoint], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            for n in range(3):
                # Each record is put only after the previous one was printed: it can only be
                # printed as it arrives, while `get` keeps following.
                self.client.put_record(StreamName="cli-follow", Data=f"live-{n}".encode(),
                                       PartitionKey="k")
                ready, _, _ = select.select([proc.stdout], [], [], harness.scaled(20))
                self.assertTrue(ready, f"record {n} was not printed within 20 s")
                self.assertEqual(proc.stdout.readline(), f"live-{n}\n")
                if n < 2:
                    self.assertIsNone(proc.poll(), "get --follow stopped before its --limit")
            self.assertEqual(proc.wait(timeout=harness.scaled(20)), 0, proc.stderr.read())
            self.assertEqual(proc.stdout.read(), "", "nothing after the limit")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def test_get_errors(self):
        self.assert_fails(["get", "no-such-stream", "--trim-horizon"], EXIT_FAILURE,
                          "tideline: ResourceNotFoundException: Stream no-such-stream under")
        self.assert_fails(["get", "cli-any"], EXIT_USAGE,
                          "Exactly 1 option from [--trim-horizon,--latest,--at-seq")
        self.assert_fails(["get", "cli-any", "--trim-horizon", "--latest"], EXIT_USAGE,
                          "Exactly 1 option")
        self.assert_fails(["get", "cli-any", "--at-seq", "12ab"], EXIT_USAGE,
                          "--at-seq: expected a sequence number (digits), got \"12ab\"")
        self.assert_fails(["get", "cli-any", "--at-timestamp", "yesterday"], EXIT_USAGE,
                          "--at-timestamp: expected epoch seconds or")
        self.assert_fails(["get", "cli-any", "--trim-horizon", "--limit", "0"], EXIT_USAGE,
                          "--limit: must be at least 1")
        self.assert_fails(["get", "cli-any", "--trim-horizon", "--format", "xml"], EXIT_USAGE,
                          "--format")
        self.create_stream("cli-noshard")
        self.assert_fails(["get", "cli-noshard", "--trim-horizon", "--shard", "shardId-7"],
                          EXIT_FAILURE, "stream cli-noshard has no shard shardId-7")

    def test_unreachable_server_is_named(self):
        port = harness.free_port()  # nothing listens there
        for args in (["get", "s", "--trim-horizon"], ["stream", "list"], ["pipeline", "list"]):
            self.assert_fails(args, EXIT_FAILURE,
                              f"tideline: cannot reach http://127.0.0.1:{port}: Couldn't connect "
                              "to server (is `tideline serve` running?)",
                              endpoint=f"http://127.0.0.1:{port}")
        code, out, err = self.tideline("put", "s", stdin="a\n",
                                       endpoint=f"http://127.0.0.1:{port}")
        self.assertEqual(code, EXIT_FAILURE, out + err)
        self.assertIn("cannot reach", err)
        self.assertIn("put 0 records", out)

    # ---- stream -------------------------------------------------------------------------------

    def test_stream_create_list_describe_delete(self):
        out = self.ok("stream", "create", "cli-life", "--shards", "3", "--retention-hours", "48")
        self.assertEqual(out, "created stream cli-life with 3 shards, retention 48 hours\n")
        self.assertIn("cli-life", self.ok("stream", "list").splitlines())
        out = self.ok("stream", "describe", "cli-life")
        self.assertIn("Stream:     cli-life\n", out)
        self.assertIn("Status:     ACTIVE\n", out)
        self.assertIn("Retention:  48 hours\n", out)
        self.assertRegex(out, r"ARN:        arn:aws:kinesis:us-east-1:\d{12}:stream/cli-life\n")
        shards = re.findall(r"^  (shardId-\d{12})  hash keys (\d+)\.\.(\d+)$", out, re.M)
        self.assertEqual([s[0] for s in shards], [f"shardId-{i:012d}" for i in range(3)])
        self.assertEqual(shards[0][1], "0")
        self.assertEqual(shards[-1][2], str(2**128 - 1))
        self.assertEqual(self.ok("stream", "delete", "cli-life"), "deleted stream cli-life\n")
        self.assertNotIn("cli-life", self.ok("stream", "list").splitlines())
        self.assert_fails(["stream", "describe", "cli-life"], EXIT_FAILURE,
                          "ResourceNotFoundException: Stream cli-life under account")
        self.assert_fails(["stream", "delete", "cli-life"], EXIT_FAILURE,
                          "ResourceNotFoundException")

    def test_stream_errors(self):
        self.create_stream("cli-dup")
        self.assert_fails(["stream", "create", "cli-dup"], EXIT_FAILURE,
                          "ResourceInUseException")
        self.assert_fails(["stream", "create", "cli-x", "--shards", "0"], EXIT_USAGE, "--shards")
        self.assert_fails(["stream", "create", "cli-x", "--retention-hours", "23"], EXIT_USAGE,
                          "--retention-hours")
        self.assert_fails(["stream", "create", "bad name!"], EXIT_FAILURE,
                          "ValidationException")
        self.assert_fails(["stream"], EXIT_USAGE, "A subcommand is required")
        self.assert_fails(["stream", "frobnicate"], EXIT_USAGE, "A subcommand is required")

    # ---- pipeline and backup ------------------------------------------------------------------

    def wait_pipeline(self, predicate, what):
        deadline = time.monotonic() + harness.scaled(60)
        while True:
            status = self.server.pipeline_status(PIPELINE)
            if predicate(status):
                return status
            if time.monotonic() > deadline:
                self.fail(f"{what}: {json.dumps(status)[:2000]}\n{self.server.log_tail()}")
            time.sleep(0.05)  # polling the status with a deadline

    def test_pipeline_and_backup_commands(self):
        self.fake.set_faults(mapping_error_value=POISON)
        self.create_stream(PIPE_STREAM, shards=2)
        lines = [json.dumps({"n": n, "v": POISON if n in (5, 17) else "ok"}) for n in range(30)]
        lines.append("this line is not json")
        self.ok("put", PIPE_STREAM, "--no-progress", stdin="\n".join(lines) + "\n")

        def caught_up(s):
            return (len(s["shards"]) == 2 and s["bufferedRecords"] == 0 and
                    sum(x["lastOffset"] for x in s["shards"]) == 31 and
                    all(x["checkpointOffset"] == x["lastOffset"] for x in s["shards"]))
        status = self.wait_pipeline(caught_up, "the pipeline did not deliver the 31 records")
        self.assertEqual(len(self.fake.docs(INDEX)), 28)

        out = self.ok("pipeline", "list")
        header, row = out.splitlines()
        self.assertEqual(header.split(), ["NAME", "STREAM", "STATE", "LAG", "READ", "DELIVERED",
                                          "DROPPED", "FAILED"])
        self.assertEqual(row.split(), [PIPELINE, PIPE_STREAM, "running", "0", "31", "28", "0",
                                       "3"])

        out = self.ok("pipeline", "status", PIPELINE)
        self.assertTrue(out.startswith(f"pipeline {PIPELINE}: running\n"), out)
        self.assertIn(f"  source {PIPE_STREAM} -> ", out)
        for shard in status["shards"]:
            self.assertRegex(out, rf"\n  {shard['shardId']} +reading +{shard['checkpoint']} +"
                                  rf"{shard['checkpointOffset']} +0 ")
        as_json = json.loads(self.ok("pipeline", "status", PIPELINE, "--json"))
        self.assertEqual(as_json["pipelines"][0]["name"], PIPELINE)
        self.assertEqual(self.ok("pipeline", "status"), out, "every pipeline: the one there is")

        # Reset to the trim horizon: everything is delivered again under the same ids.
        before = self.fake.stats()["bulk_items"]
        out = self.ok("pipeline", "reset", PIPELINE, "--trim-horizon")
        self.assertTrue(out.startswith(f"pipeline {PIPELINE} reset; it reads again from:\n"),
                        out)
        self.wait_pipeline(lambda s: caught_up(s) and self.fake.stats()["bulk_items"] >= before
                           + 30, "the reset pipeline did not deliver the records again")
        self.assertEqual(len(self.fake.docs(INDEX)), 28, "stable ids: nothing indexed twice")
        self.assert_fails(["pipeline", "reset", "no-such-pipe", "--latest"], EXIT_FAILURE,
                          "ResourceNotFoundException: Pipeline no-such-pipe not found.")
        self.assert_fails(["pipeline", "status", "no-such-pipe"], EXIT_FAILURE,
                          "Pipeline no-such-pipe not found")
        self.assert_fails(["pipeline", "reset", PIPELINE], EXIT_USAGE, "Exactly 1 option")
        self.assert_fails(["pipeline", "reset", PIPELINE, "--at-seq", "12"], EXIT_FAILURE, "12")

        # The backup holds the refused documents (twice: delivered twice) and the bad line.
        backup = os.path.join(self.server.workdir, "backup")
        out = self.ok("backup", "list", backup, endpoint=False)
        self.assertRegex(out, r"\npending +opensearch-failed +4 .* 400:4 .*/opensearch-failed-")
        self.assertRegex(out, r"\npending +processing-failed +2 .* Json\.ParseFailed:2 ")
        self.assertIn("opensearch-failed: 4 lines not redriven\n", out)
        self.assertEqual(self.ok("backup", "list", "--backup-dir", backup, endpoint=False), out)
        empty = os.path.join(self.server.workdir, "empty-backup")
        os.makedirs(empty, exist_ok=True)
        self.assertEqual(self.ok("backup", "list", empty, endpoint=False),
                         f"no backup files under {empty}\n")
        self.assert_fails(["backup", "list", os.path.join(backup, "none")], EXIT_FAILURE,
                          f"tideline: no backup file or directory {os.path.join(backup, 'none')}",
                          endpoint=False)

        # Redrive with the pipeline's own destination settings, once the cluster accepts them.
        self.fake.set_faults()
        self.assert_fails(["backup", "redrive", os.path.join(backup, PIPELINE)], EXIT_USAGE,
                          "give --url URL or --config FILE --pipeline NAME", endpoint=False)
        self.assert_fails(["backup", "redrive", os.path.join(backup, PIPELINE), "--config",
                           self.config, "--pipeline", "no-such-pipe"], EXIT_USAGE,
                          "no-such-pipe", endpoint=False)
        out = self.ok("backup", "redrive", os.path.join(backup, PIPELINE), "--config",
                      self.config, "--pipeline", PIPELINE, "--no-progress", endpoint=False)
        self.assertIn("4 documents delivered, 0 failed again", out)
        self.assertIn("skipped", out)  # the processing-failed files hold records, not documents
        docs = self.fake.docs(INDEX)
        self.assertEqual(len(docs), 30, "the two refused documents are indexed now")
        self.assertEqual(sorted(d["_source"]["n"] for d in docs), list(range(30)))
        out = self.ok("backup", "list", backup, endpoint=False)
        self.assertRegex(out, r"redriven +opensearch-failed +4 ")


if __name__ == "__main__":
    harness.main()
