#!/usr/bin/env python3
"""A pipeline configured through `tideline serve --config`, end to end into the fake OpenSearch
(tests/tools/fake_opensearch.py), with what the other drills leave out:

  * the processors geoip (the demo database of examples/make_demo_geoip.cc), lambda (a
    subprocess transformer) and fields, after access_log: the documents in the index carry the
    fields each added, and records the transformer drops are not indexed;
  * index rotation OneHour (each document in the index named after its arrival hour), document_id
    auto (ids OpenSearch made, one document per record) and backup mode AllDocuments (every
    document is also in the backup, not only failed ones);
  * the retrying state: while every bulk request fails, the status says `retrying` with the
    error and /metrics counts the failed requests; then it recovers and delivers everything;
  * concurrent bulk requests on kept-alive connections (the fake counts both);
  * a second `tideline serve` on the same data directory exits non-zero, naming the directory.

Run: python3 test_serve_pipeline.py --tideline build/cli/tideline [TestClass.test_name]
Environment: TIDELINE_DEMO_GEOIP, the tideline_demo_geoip binary (ctest sets it).
"""

import base64
import collections
import datetime
import glob
import json
import os
import subprocess
import sys
import time
import unittest

import harness
import test_opensearch_delivery as osd

STREAM = "weblog"
PIPELINE = "enrich"
INDEX = "enriched"
CONCURRENCY = 4
LAMBDA = r'''
import base64, json, sys
for line in sys.stdin:
    request = json.loads(line)
    out = []
    for r in request["records"]:
        doc = json.loads(base64.b64decode(r["data"]))
        doc["transformed"] = {"by": "lambda", "path_upper": doc.get("path", "").upper()}
        result = "Dropped" if doc.get("path") == "/drop-me" else "Ok"
        out.append({"recordId": r["recordId"], "result": result,
                    "data": base64.b64encode(json.dumps(doc).encode()).decode()})
    sys.stdout.write(json.dumps({"records": out}) + "\n")
    sys.stdout.flush()
'''
# (client ip, what the demo database says of it: kCities[first octet % 8], or nothing)
IPS = [("23.1.2.3", {"country_iso_code": "FR", "country_name": "France", "city_name": "Paris",
                     "asn": 64523, "as_org": "Demo Network 23"}),
       ("100.20.30.40", {"country_iso_code": "GB", "country_name": "United Kingdom",
                         "city_name": "London", "asn": 64600, "as_org": "Demo Network 100"}),
       ("10.0.0.1", None)]  # private: no geo


def line(n, path=None, agent_bytes=0):
    ip = IPS[n % len(IPS)][0]
    path = path or f"/page/{n}"
    agent = f"agent/{n}" + " x" * (agent_bytes // 2)
    return (f'{ip} - - [30/Nov/2026:10:00:{n % 60:02d} +0000] "GET {path} HTTP/1.1" 200 {n + 1} '
            f'"-" "{agent}"')


def write_config(workdir, fake_url, geoip_db):
    with open(os.path.join(workdir, "transform.py"), "w") as f:
        f.write(LAMBDA)
    path = os.path.join(workdir, "tideline.yaml")
    with open(path, "w") as f:
        f.write(f"""
pipelines:
  - name: {PIPELINE}
    source:
      stream: {STREAM}
    processors:
      - type: access_log
      - type: geoip
        database: {geoip_db}
      - type: lambda
        command: [{sys.executable}, {os.path.join(workdir, "transform.py")}]
        timeout_ms: {int(harness.scaled(30000))}
      - type: fields
        add: {{env: test}}
        rename: {{method: http.method}}
        remove: [ident]
        metadata: {{kinesis.seq: sequence_number, arrival_ms: arrival_timestamp_ms}}
    buffer:
      interval_s: 0
      size_mib: 1
    destination:
      opensearch:
        url: {fake_url}
        index: {INDEX}
        rotation: OneHour
        document_id: auto
        retry_duration_s: 600
        concurrency: {CONCURRENCY}
        keep_alive_connections: {CONCURRENCY}
    backup:
      path: ./backup
      mode: AllDocuments
""")
    return path


class ServePipelineTest(unittest.TestCase):
    """One server and one fake OpenSearch for the class; counts accumulate across tests."""

    @classmethod
    def setUpClass(cls):
        geoip = os.environ.get("TIDELINE_DEMO_GEOIP")
        if not geoip or not os.access(geoip, os.X_OK):
            raise SystemExit("FATAL: TIDELINE_DEMO_GEOIP must name the tideline_demo_geoip binary")
        cls.fake = osd.FakeOpenSearch(777, name="fake-serve")
        cls.fake.start()
        cls.server = harness.TidelineServer(name="serve-pipeline")
        db = os.path.join(cls.server.workdir, "demo.mmdb")
        subprocess.run([geoip, db], check=True, timeout=60)
        cls.server.extra_args = ["--config",
                                 write_config(cls.server.workdir, cls.fake.url, db)]
        cls.server.start()
        cls.client = cls.server.boto3_client()
        cls.client.create_stream(StreamName=STREAM, ShardCount=3)
        harness.wait_stream_active(cls.client, STREAM)
        cls.next_n = 0

    @classmethod
    def tearDownClass(cls):
        harness.stop_and_clean(cls.server, cls.fake.cleanup)

    def setUp(self):
        self.started = time.monotonic()

    def tearDown(self):
        print(f"  [{self._testMethodName}: {time.monotonic() - self.started:.1f} s]", flush=True)
        self.assertTrue(self.server.alive(), "the server died\n" + self.server.log_tail())

    def put_lines(self, count, drop_every=0, agent_bytes=0):
        """Puts `count` new access-log lines (line numbers go on across calls); returns
        {n: sequence number}. With drop_every, each such line asks the transformer to drop it;
        agent_bytes pads the user agent."""
        ns = list(range(self.next_n, self.next_n + count))
        type(self).next_n += count
        out = {}
        for start in range(0, count, 500):
            chunk = ns[start:start + 500]
            r = self.client.put_records(StreamName=STREAM, Records=[
                {"Data": line(n, "/drop-me" if drop_every and n % drop_every == 0 else None,
                              agent_bytes).encode(), "PartitionKey": f"pk-{n}"} for n in chunk])
            self.assertEqual(r["FailedRecordCount"], 0, r)
            out.update({n: rec["SequenceNumber"] for n, rec in zip(chunk, r["Records"])})
        return out

    def status(self):
        return self.server.pipeline_status(PIPELINE)

    def wait_caught_up(self, what):
        total = self.next_n
        deadline = time.monotonic() + harness.scaled(90)
        while True:
            s = self.status()
            if (len(s["shards"]) == 3 and s["bufferedRecords"] == 0 and
                    sum(x["lastOffset"] for x in s["shards"]) == total and
                    all(x["checkpointOffset"] == x["lastOffset"] for x in s["shards"])):
                return s
            if time.monotonic() > deadline:
                self.fail(f"{what}: not caught up: {json.dumps(s)[:1500]}\n"
                          f"{self.server.log_tail()}\n{self.fake.log_tail(10)}")
            time.sleep(0.05)  # polling the status with a deadline

    def all_docs(self):
        text = self.fake.control("GET", "/_fake/docs").decode()
        return [json.loads(x) for x in text.splitlines() if x.strip()]

    # ---- tests --------------------------------------------------------------------------------

    def test_processors_rotation_auto_ids_and_all_documents_backup(self):
        seqs = self.put_lines(60, drop_every=10)  # 6 dropped by the transformer
        self.wait_caught_up("60 records")
        docs = [d for d in self.all_docs() if d["_source"].get("kinesis", {}).get("seq")
                in set(seqs.values())]
        by_seq = {d["_source"]["kinesis"]["seq"]: d for d in docs}
        self.assertEqual(len(docs), 54, "one document per record, none for the dropped ones")
        self.assertEqual(len(by_seq), 54)
        for n, seq in seqs.items():
            if n % 10 == 0:
                self.assertNotIn(seq, by_seq, f"line {n} was dropped by the transformer")
                continue
            d = by_seq[seq]
            src = d["_source"]
            # access_log, then fields: renamed, removed, added, metadata.
            self.assertEqual(src["path"], f"/page/{n}")
            self.assertEqual(src["http"], {"method": "GET"})
            self.assertNotIn("method", src)
            self.assertNotIn("ident", src)
            self.assertEqual(src["env"], "test")
            self.assertEqual(src["bytes"], n + 1)
            # lambda
            self.assertEqual(src["transformed"], {"by": "lambda",
                                                  "path_upper": f"/PAGE/{n}"})
            # geoip
            ip, geo = IPS[n % len(IPS)]
            self.assertEqual(src["client_ip"], ip)
            if geo is None:
                self.assertNotIn("geo", src)
            else:
                self.assertEqual({k: src["geo"].get(k) for k in geo}, geo, src)
                self.assertEqual(set(src["geo"]["location"]), {"lat", "lon"})
            # rotation: the index of the record's arrival hour (UTC)
            arrival = datetime.datetime.fromtimestamp(src["arrival_ms"] / 1000,
                                                      datetime.timezone.utc)
            self.assertEqual(d["_index"], f"{INDEX}-{arrival:%Y-%m-%d-%H}")
            # auto ids: made by OpenSearch (20-char URL-safe base64), not <stream>-<seq>
            self.assertRegex(d["_id"], r"^[A-Za-z0-9_-]{20}$")
            self.assertEqual(d["writes"], 1)

        # AllDocuments: every delivered document is in the backup as well.
        backup = os.path.join(self.server.workdir, "backup", PIPELINE)
        lines = []
        for path in glob.glob(os.path.join(backup, "opensearch-all", "*.ndjson")):
            with open(path) as f:
                lines += [json.loads(x) for x in f if x.strip()]
        backed = {}
        for b in lines:
            doc = json.loads(base64.b64decode(b["rawData"]))
            backed[doc["kinesis"]["seq"]] = (b, doc)
        self.assertEqual(set(backed) & set(seqs.values()), set(by_seq),
                         "every indexed document, and only those, is in the all-documents backup")
        for seq, (b, doc) in backed.items():
            if seq in by_seq:
                self.assertEqual(doc, by_seq[seq]["_source"])
                self.assertEqual(b["esIndexName"], by_seq[seq]["_index"])
        self.assertEqual(glob.glob(os.path.join(backup, "opensearch-failed", "*.ndjson")), [],
                         "nothing failed")
        status = self.status()
        self.assertGreaterEqual(status["backup"]["allDocuments"], 54, status["backup"])
        self.assertEqual(status["backup"]["deliveryFailed"], 0, status["backup"])
        self.assertGreaterEqual(sum(s["recordsDropped"] for s in status["shards"]), 6)

    def test_retrying_state_and_metrics_while_every_request_fails_then_recovery(self):
        self.wait_caught_up("before the outage")
        lbl = f'{{pipeline="{PIPELINE}",destination="opensearch"}}'
        failures_before = osd.prometheus(self.server)[
            f"tideline_pipeline_delivery_request_failures_total{lbl}"]
        self.fake.set_faults(request_503_rate=1.0)
        try:
            seqs = self.put_lines(30)
            deadline = time.monotonic() + harness.scaled(60)
            while True:
                s = self.status()
                m = osd.prometheus(self.server)
                failures = m[f"tideline_pipeline_delivery_request_failures_total{lbl}"]
                if s["state"] == "retrying" and failures >= failures_before + 2:
                    break
                self.assertLess(time.monotonic(), deadline,
                                f"never retrying: {s['state']} {s['message']}, "
                                f"{failures} request failures")
                time.sleep(0.05)  # polling the status with a deadline
            self.assertIn("503", s["message"])
            self.assertEqual(m[f'tideline_pipeline_retrying{{pipeline="{PIPELINE}"}}'], 1)
            self.assertGreater(s["dataFreshnessMs"], 0, "records wait for delivery")
            code = subprocess.run([harness.TIDELINE_BINARY, "pipeline", "list", "--endpoint",
                                   self.server.endpoint], capture_output=True, text=True,
                                  timeout=60)
            self.assertEqual(code.returncode, 0, code.stderr)
            self.assertIn(" retrying ", code.stdout)
        finally:
            self.fake.set_faults()
        s = self.wait_caught_up("after the outage")
        self.assertEqual(s["state"], "running", s["message"])
        m = osd.prometheus(self.server)
        self.assertEqual(m[f'tideline_pipeline_retrying{{pipeline="{PIPELINE}"}}'], 0)
        self.assertGreaterEqual(m[f"tideline_pipeline_delivery_request_failures_total{lbl}"],
                                failures_before + 2, "a counter keeps what it counted")
        indexed = [d for d in self.all_docs()
                   if d["_source"]["kinesis"]["seq"] in set(seqs.values())]
        self.assertEqual(len(indexed), 30, "every record indexed once after the outage")
        self.assertEqual(self.status()["backup"]["deliveryFailed"], 0)

    def test_concurrent_bulk_requests_on_kept_alive_connections(self):
        # A flush is shared among `concurrency` requests when each gets 256 KiB at least
        # (bulk_encoder.cc): 3 KiB documents, a few hundred a flush. The fake's latency makes the
        # requests of one flush overlap there.
        self.fake.set_faults(latency_ms=100)
        try:
            for _ in range(4):
                self.put_lines(800, agent_bytes=3000)
                self.wait_caught_up("a round of 800 records")
        finally:
            self.fake.set_faults()
        stats = self.fake.stats()
        print(f"  fake: bulk_requests {stats['bulk_requests']}, connections "
              f"{stats['connections']}, max concurrent {stats['max_concurrent_bulk']}",
              flush=True)
        self.assertGreaterEqual(stats["max_concurrent_bulk"], 2, "requests were sent one by one")
        self.assertLessEqual(stats["max_concurrent_bulk"], CONCURRENCY,
                             "more requests in flight than `concurrency`")
        self.assertLessEqual(stats["connections"], 2 * CONCURRENCY, stats)
        self.assertGreaterEqual(stats["bulk_requests"], 3 * stats["connections"],
                                "connections are kept alive and reused")

    def test_second_server_on_the_same_data_dir_exits_naming_it(self):
        p = subprocess.run([harness.TIDELINE_BINARY, "serve", "--data-dir", self.server.data_dir,
                            "--listen", f"127.0.0.1:{harness.free_port()}"],
                           capture_output=True, text=True, timeout=harness.scaled(60))
        self.assertNotEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn(f"data directory {self.server.data_dir} is already in use",
                      p.stdout + p.stderr)
        self.assertEqual(self.server.health_status(), 200, "the first server carries on")


if __name__ == "__main__":
    harness.main()
