#!/usr/bin/env python3
"""Pipeline restart drill: a producer writes web access-log lines (some malformed) while the
server, running an access_log pipeline into the file destination, is SIGKILLed at random moments
and restarted on the same directories.

After every restart, before anything else, the pipeline's checkpoints are read and then the
destination and backup files: every record at or below a shard's checkpoint must be in one of
them (a checkpoint never passes a record that was not handled). At the end, once the pipeline has
caught up, every acknowledged record is in the destination (parsed) or in the backup (malformed
lines, as Firehose processing-failed records) at least once.

Run: python3 test_pipeline_restart.py --tideline build/cli/tideline [--kills N] (default 12)
"""

import base64
import glob
import json
import os
import random
import threading
import time
import unittest

import harness
from harness import seq_offset

SEED = int(os.environ.get("TIDELINE_PIPELINE_SEED", "31337"))
KILLS = int(os.environ.get("TIDELINE_PIPELINE_KILLS", "12"))
STREAM = "weblogs"
SHARDS = 3
PIPELINE = "drill"
MALFORMED_EVERY = 9
PACE_S = 0.03  # producer rate limit (not synchronization): about 3k records/s

CONFIG = f"""
pipelines:
  - name: {PIPELINE}
    source:
      stream: {STREAM}
    processors:
      - type: access_log
    buffer:
      size_mib: 1
      interval_s: 1
    destination:
      file:
        path: ./out
        rotate_mib: 1
    backup:
      path: ./backup
"""


def line_for(n, rng):
    if n % MALFORMED_EVERY == 0:
        return f"garbage line {n} without any structure"
    ip = f"{rng.randrange(1, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    return (f'{ip} - - [30/Nov/2026:10:{n // 60 % 60:02d}:{n % 60:02d} +0000] '
            f'"GET /item/{n} HTTP/1.1" 200 {rng.randrange(100, 9000)} "-" "drill/1.0"')


class Ledger:
    def __init__(self):
        self.lock = threading.Lock()
        self.acked = {}  # n -> (shard id, sequence number)   GUARDED_BY lock


def producer(server, ledger, stop):
    rng = random.Random(SEED)
    client, port, n = None, None, 0
    while not stop.is_set():
        if server.port != port:
            if client is not None:
                client.close()
            port = server.port
            client = harness.RawKinesis("127.0.0.1", port, timeout=10)
        batch = list(range(n, n + rng.randint(20, 120)))
        n = batch[-1] + 1
        body = {"StreamName": STREAM, "Records": [
            {"Data": harness.b64(line_for(i, rng).encode()), "PartitionKey": f"k{i}"}
            for i in batch]}
        sent_at = time.monotonic()
        try:
            status, resp = client.call("PutRecords", body)
        except (OSError, harness.http.client.HTTPException, ValueError):
            stop.wait(0.01)  # the server is down: back off before retrying, not a sync
            continue
        if status == 200:
            with ledger.lock:
                for i, res in zip(batch, resp["Records"]):
                    if "SequenceNumber" in res:
                        ledger.acked[i] = (res["ShardId"], res["SequenceNumber"])
        stop.wait(max(0.0, sent_at + PACE_S - time.monotonic()))
    if client is not None:
        client.close()


def handled(workdir):
    """{(shard, offset)} of every record in the destination or the backup, and the destination's
    documents by sequence number."""
    seen, docs = set(), {}
    for path in glob.glob(os.path.join(workdir, "out", PIPELINE, "*.ndjson")):
        with open(path) as f:
            for line in f:
                d = json.loads(line)  # a torn line here would be a bug: the writer repairs them
                seen.add((d["shard"], seq_offset(d["sequenceNumber"])))
                docs[d["sequenceNumber"]] = d["document"]
    for path in glob.glob(os.path.join(workdir, "backup", PIPELINE, "*", "*.ndjson")):
        with open(path) as f:
            for line in f:
                d = json.loads(line)
                m = d["kinesisRecordMetadata"]
                seen.add((m["shardId"], seq_offset(m["sequenceNumber"])))
                docs[m["sequenceNumber"]] = {"failed": d["errorCode"],
                                             "raw": base64.b64decode(d["rawData"]).decode()}
    return seen, docs


class PipelineRestartTest(unittest.TestCase):
    def setUp(self):
        self.server = harness.TidelineServer(name="pipeline-drill")
        config = os.path.join(self.server.workdir, "tideline.yaml")
        with open(config, "w") as f:
            f.write(CONFIG)
        self.server.extra_args = ["--config", config]
        self.server.start()
        status, r = self.server.raw_client().call("CreateStream",
                                                  {"StreamName": STREAM, "ShardCount": SHARDS})
        self.assertEqual(status, 200, r)
        harness.wait_stream_active(self.server.boto3_client(), STREAM)

    def tearDown(self):
        self.server.cleanup()

    def check_checkpoints(self, where):
        """Checkpoints first, files second: anything at or below a checkpoint was durable in a
        file before the checkpoint was written, so it must be in what is read afterwards."""
        status = self.server.pipeline_status(PIPELINE)
        seen, _ = handled(self.server.workdir)
        for shard in status["shards"]:
            for offset in range(1, shard["checkpointOffset"] + 1):
                self.assertIn((shard["shardId"], offset), seen,
                              f"{where}: checkpoint {shard['checkpointOffset']} of "
                              f"{shard['shardId']} passed offset {offset}, which is in neither "
                              f"the destination nor the backup")
        return status

    def test_kills_never_lose_or_skip_records(self):
        rng = random.Random(SEED + 1)
        ledger, stop = Ledger(), threading.Event()
        thread = threading.Thread(target=producer, args=(self.server, ledger, stop))
        thread.start()
        try:
            moved = 0
            for k in range(KILLS):
                stop.wait(rng.uniform(0.3, 1.6))  # a random moment of the run, not a sync
                self.server.kill()
                self.server.start()
                status = self.check_checkpoints(f"after kill {k + 1}")
                moved = max(moved, sum(s["checkpointOffset"] for s in status["shards"]))
            self.assertGreater(moved, 0, "the pipeline never checkpointed anything")
        finally:
            stop.set()
            thread.join()

        # Let the pipeline catch up with everything written, then check every acknowledged record.
        deadline = time.monotonic() + harness.scaled(60)
        while True:
            status = self.server.pipeline_status(PIPELINE)
            if status["state"] == "running" and all(s["lag"] == 0 for s in status["shards"]) \
                    and len(status["shards"]) == SHARDS:
                break
            self.assertLess(time.monotonic(), deadline, f"pipeline did not catch up: {status}")
            time.sleep(0.1)  # polling the status with a deadline
        self.check_checkpoints("at the end")
        seen, docs = handled(self.server.workdir)
        with ledger.lock:
            acked = dict(ledger.acked)
        self.assertGreater(len(acked), 1000, "the producer got too little through")
        missing = [n for n, (sid, seq) in acked.items() if (sid, seq_offset(seq)) not in seen]
        self.assertEqual(missing[:10], [], f"{len(missing)} acknowledged records never handled")
        for n, (sid, seq) in acked.items():
            doc = docs[seq]
            if n % MALFORMED_EVERY == 0:
                self.assertEqual(doc.get("failed"), "AccessLog.ParseFailed", doc)
                self.assertIn(f"line {n} ", doc["raw"])
            else:
                self.assertEqual(doc.get("path"), f"/item/{n}", doc)
                self.assertEqual(doc.get("status"), 200, doc)
        self.assertEqual(self.server.stop(), 0, self.server.log_tail())


if __name__ == "__main__":
    harness.main()
