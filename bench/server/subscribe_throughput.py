#!/usr/bin/env python3
"""Per-subscription SubscribeToShard throughput over HTTP/1.1.

With --fill, creates stream "bench" (one shard) on a running server, puts --mb MB of random
--record-bytes records into it and registers consumer "bench". Then subscribes from TRIM_HORIZON
and reads until the subscription has caught up, decoding every message as a client must: the
event-stream framing and CRC, the JSON payload, every record's base64 Data. --raw only frames
the messages (what the server can push, not what a Python client can take).

  build/cli/tideline serve --data-dir /tmp/bench-data --listen 127.0.0.1:4567 &
  python3 bench/server/subscribe_throughput.py --fill --mb 200
  python3 bench/server/subscribe_throughput.py --mb 200 --raw

A second run within 5 s of the first is refused (one subscription per consumer and shard).
"""

import argparse
import base64
import http.client
import json
import os
import struct
import sys
import time
import zlib

TARGET = "Kinesis_20131202."
JSON = "application/x-amz-json-1.1"


def call(conn, operation, body):
    conn.request("POST", "/", body=json.dumps(body),
                 headers={"X-Amz-Target": TARGET + operation, "Content-Type": JSON})
    resp = conn.getresponse()
    data = resp.read()
    if resp.status != 200:
        raise SystemExit(f"{operation}: HTTP {resp.status}: {data[:300]!r}")
    return json.loads(data) if data else {}


def fill(conn, mb, record_bytes):
    call(conn, "CreateStream", {"StreamName": "bench", "ShardCount": 1})
    while call(conn, "DescribeStreamSummary", {"StreamName": "bench"})[
            "StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
        time.sleep(0.05)  # CreateStream is asynchronous, as on Kinesis
    data = base64.b64encode(os.urandom(record_bytes)).decode()
    put, started = 0, time.monotonic()
    while put < mb * 1000 * 1000:
        r = call(conn, "PutRecords", {"StreamName": "bench", "Records": [
            {"Data": data, "PartitionKey": str(i)} for i in range(500)]})
        if r["FailedRecordCount"]:
            raise SystemExit(f"PutRecords failed records: {r['FailedRecordCount']}")
        put += 500 * record_bytes
    print(f"filled {put / 1e6:.0f} MB in {time.monotonic() - started:.1f} s", file=sys.stderr)
    arn = call(conn, "DescribeStreamSummary", {"StreamName": "bench"})[
        "StreamDescriptionSummary"]["StreamARN"]
    call(conn, "RegisterStreamConsumer", {"StreamARN": arn, "ConsumerName": "bench"})
    while call(conn, "DescribeStreamConsumer", {"StreamARN": arn, "ConsumerName": "bench"})[
            "ConsumerDescription"]["ConsumerStatus"] != "ACTIVE":
        time.sleep(0.05)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--endpoint", default="127.0.0.1:4567", help="HOST:PORT")
    p.add_argument("--mb", type=int, default=200, help="MB of records to fill with")
    p.add_argument("--record-bytes", type=int, default=1024)
    p.add_argument("--fill", action="store_true", help="create and fill the stream first")
    p.add_argument("--raw", action="store_true", help="frame messages only, decode nothing")
    args = p.parse_args()
    host, port = args.endpoint.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    if args.fill:
        fill(conn, args.mb, args.record_bytes)
    arn = call(conn, "DescribeStreamSummary", {"StreamName": "bench"})[
        "StreamDescriptionSummary"]["StreamARN"]
    consumer = call(conn, "DescribeStreamConsumer", {"StreamARN": arn, "ConsumerName": "bench"})[
        "ConsumerDescription"]["ConsumerARN"]
    conn.request("POST", "/", body=json.dumps({
        "ConsumerARN": consumer, "ShardId": "shardId-000000000000",
        "StartingPosition": {"Type": "TRIM_HORIZON"}}),
        headers={"X-Amz-Target": TARGET + "SubscribeToShard", "Content-Type": JSON})
    resp = conn.getresponse()
    if resp.status != 200:
        raise SystemExit(f"SubscribeToShard: HTTP {resp.status}: {resp.read()[:300]!r}")
    started = time.monotonic()
    buf, wire, events, records, data_bytes = b"", 0, 0, 0, 0
    while True:
        chunk = resp.read1(1 << 20)
        if not chunk:
            raise SystemExit("the stream ended before the subscription caught up")
        wire += len(chunk)
        buf += chunk
        while len(buf) >= 12:
            total, headers = struct.unpack(">II", buf[:8])
            if len(buf) < total:
                break
            message, buf = buf[:total], buf[total:]
            if b"SubscribeToShardEvent" not in message[12:12 + headers]:
                continue  # the initial response
            events += 1
            if args.raw:
                caught_up = b'"MillisBehindLatest":0' in message[-64:]
            else:
                if zlib.crc32(message[:-4]) != struct.unpack(">I", message[-4:])[0]:
                    raise SystemExit("bad message CRC")
                event = json.loads(message[12 + headers:-4])
                for record in event["Records"]:
                    data_bytes += len(base64.b64decode(record["Data"]))
                    records += 1
                caught_up = event["MillisBehindLatest"] == 0
            if caught_up:
                elapsed = time.monotonic() - started
                if args.raw:
                    print(f"{wire / 2**20:.1f} MiB on the wire in {elapsed:.2f} s: "
                          f"{wire / 2**20 / elapsed:.0f} MiB/s ({events} events)")
                else:
                    print(f"{records} records, {data_bytes / 2**20:.1f} MiB of data in "
                          f"{elapsed:.2f} s: {records / elapsed:,.0f} records/s, "
                          f"{data_bytes / 2**20 / elapsed:.1f} MiB/s "
                          f"({wire / 2**20 / elapsed:.1f} MiB/s on the wire, {events} events)")
                return


if __name__ == "__main__":
    main()
