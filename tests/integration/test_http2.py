#!/usr/bin/env python3
"""HTTP/2 on the API port against a real `tideline serve`: curl with prior knowledge (h2c) on the
plain port, Kinesis calls and their errors, SigV4-signed requests (botocore's signer) with the
region taken from the credential scope, h2load with many concurrent streams, HTTP/1.1 (and an
`Upgrade: h2c` request, answered as HTTP/1.1) on the same port, a PING flood ended with GOAWAY
ENHANCE_YOUR_CALM, h2 chosen by ALPN on the TLS port, with HTTP/1.1 still served there, and a
SIGTERM ending a live SubscribeToShard over h2c cleanly.
Run: python3 test_http2.py --tideline build/cli/tideline"""

import json
import os
import select
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import ServerTestCase, b64, unb64  # noqa: E402

import botocore.auth  # noqa: E402
import botocore.config  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402
from botocore.eventstream import EventStreamBuffer  # noqa: E402

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
GOAWAY, ENHANCE_YOUR_CALM = 0x7, 0xB


def tool(name):
    path = shutil.which(name)
    if path is None:
        raise AssertionError(f"FATAL: `{name}` is not on PATH (scripts/setup installs it; "
                             "required, never skipped)")
    return path


def curl(*args, data=None, timeout=60):
    """Runs curl; returns (HTTP version as curl names it: "2", "1.1"; status; {header: value}
    of the final response, names in lower case; body bytes)."""
    with tempfile.TemporaryDirectory() as d:
        head, out = os.path.join(d, "head"), os.path.join(d, "body")
        cmd = [tool("curl"), "-sS", "-o", out, "-D", head, "-w", "%{http_version} %{http_code}"]
        if data is not None:
            cmd += ["--data-binary", "@-"]
        p = subprocess.run(cmd + list(args), input=data, capture_output=True, timeout=timeout)
        if p.returncode != 0:
            raise AssertionError(f"curl {' '.join(args)} failed ({p.returncode}): "
                                 f"{p.stderr.decode(errors='replace')}")
        version, status = p.stdout.decode().split()
        headers = {}
        with open(head, "rb") as f:
            for line in f.read().decode("latin-1").splitlines():
                if line.startswith("HTTP/"):
                    headers = {}  # a 1xx before the final answer
                elif ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
        with open(out, "rb") as f:
            return version, int(status), headers, f.read()


def kinesis_args(operation, extra_headers=()):
    args = ["-X", "POST", "-H", f"X-Amz-Target: {harness.TARGET_PREFIX}{operation}",
            "-H", f"Content-Type: {harness.CONTENT_TYPE}"]
    for name, value in extra_headers:
        args += ["-H", f"{name}: {value}"]
    return args


def frames(data):
    """The (type, flags, stream id, payload) of each whole frame in `data`."""
    out, at = [], 0
    while at + 9 <= len(data):
        length = int.from_bytes(data[at:at + 3], "big")
        if at + 9 + length > len(data):
            break
        ftype, flags = data[at + 3], data[at + 4]
        stream = int.from_bytes(data[at + 5:at + 9], "big") & 0x7FFFFFFF
        out.append((ftype, flags, stream, data[at + 9:at + 9 + length]))
        at += 9 + length
    return out


def frame(ftype, flags, stream, payload=b""):
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + stream.to_bytes(4, "big") \
        + payload


class Http2Test(ServerTestCase):
    """h2c with prior knowledge beside HTTP/1.1 on the plain port."""

    def h2c(self, operation, payload, extra_headers=()):
        version, status, headers, body = curl(
            "--http2-prior-knowledge", *kinesis_args(operation, extra_headers),
            self.server.endpoint + "/", data=json.dumps(payload).encode())
        self.assertEqual(version, "2")
        return status, headers, json.loads(body) if body else None

    def create_stream(self, name, shards=1):
        status, _, body = self.h2c("CreateStream", {"StreamName": name, "ShardCount": shards})
        self.assertEqual(status, 200, body)
        harness.wait_stream_active(self.client, name)

    def metrics(self):
        _, status, _, body = curl("--http2-prior-knowledge", self.server.endpoint + "/metrics")
        self.assertEqual(status, 200)
        out = {}
        for line in body.decode().splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out

    def test_kinesis_calls_over_h2c(self):
        self.create_stream("h2c-calls")
        data = [b"first", b"\x00\xffbinary", "héllo".encode()]
        for i, d in enumerate(data):
            status, headers, body = self.h2c("PutRecord", {"StreamName": "h2c-calls",
                                                           "Data": b64(d),
                                                           "PartitionKey": f"k{i}"})
            self.assertEqual(status, 200, body)
            self.assertIn("SequenceNumber", body)
            self.assertEqual(len(headers["x-amzn-requestid"]), 36)
            self.assertEqual(headers["content-type"], harness.CONTENT_TYPE)
        status, _, it = self.h2c("GetShardIterator", {"StreamName": "h2c-calls",
                                                      "ShardId": "shardId-000000000000",
                                                      "ShardIteratorType": "TRIM_HORIZON"})
        self.assertEqual(status, 200, it)
        status, _, got = self.h2c("GetRecords", {"ShardIterator": it["ShardIterator"]})
        self.assertEqual(status, 200, got)
        self.assertEqual([unb64(r["Data"]) for r in got["Records"]], data)
        self.assertIn("NextShardIterator", got)
        # Errors are Kinesis-shaped, with the error type in a header, as over HTTP/1.1.
        status, headers, body = self.h2c("DescribeStream", {"StreamName": "missing"})
        self.assertEqual(status, 400)
        self.assertEqual(headers["x-amzn-errortype"], "ResourceNotFoundException")
        self.assertEqual(body["__type"], "ResourceNotFoundException")
        status, headers, body = self.h2c("PutRecord", {"StreamName": "h2c-calls"})
        self.assertEqual(status, 400)
        self.assertEqual(body["__type"], "ValidationException", body)

    def test_body_over_the_limit_is_413_and_the_upload_is_stopped(self):
        # nghttp, not curl: the server answers from the header and then stops the upload with
        # RST_STREAM NO_ERROR (RFC 9113 8.1), which curl 7.88 reports as a stream error although
        # the answer was complete.
        body_file = os.path.join(self.server.workdir, "too-large.json")
        with open(body_file, "w") as f:
            json.dump({"StreamName": "x" * 70000}, f)
        p = subprocess.run(
            [tool("nghttp"), "-v", "-d", body_file,
             "-H", f"x-amz-target: {harness.TARGET_PREFIX}DescribeStream",
             "-H", f"content-type: {harness.CONTENT_TYPE}", self.server.endpoint + "/"],
            capture_output=True, text=True, timeout=harness.scaled(60))
        self.assertEqual(p.returncode, 0, p.stdout[-2000:] + p.stderr)
        self.assertRegex(p.stdout, r"recv \(stream_id=\d+\) :status: 413")
        self.assertRegex(p.stdout, r"recv \(stream_id=\d+\) x-amzn-errortype: ValidationException")
        self.assertIn('"message":"Request body exceeds the limit of 65536 bytes."', p.stdout)
        self.assertRegex(p.stdout, r"recv RST_STREAM frame <[^>]*>\s+\(error_code=NO_ERROR")
        self.assertEqual(self.server.health_status(), 200)

    def test_http11_and_upgrade_requests_are_served_as_http11(self):
        self.create_stream("h1-beside-h2")
        self.client.put_record(StreamName="h1-beside-h2", Data=b"boto3", PartitionKey="p")
        version, status, _, body = curl("--http1.1", self.server.endpoint + "/health")
        self.assertEqual((version, status, body), ("1.1", 200, b"ok"))
        # curl --http2 on http:// asks to upgrade; the server does not offer h2c upgrades and
        # answers the request itself over HTTP/1.1.
        version, status, _, body = curl("--http2", self.server.endpoint + "/health")
        self.assertEqual((version, status, body), ("1.1", 200, b"ok"))
        version, status, _, body = curl("--http2", *kinesis_args("DescribeStreamSummary"),
                                        self.server.endpoint + "/",
                                        data=b'{"StreamName":"h1-beside-h2"}')
        self.assertEqual((version, status), ("1.1", 200))
        self.assertEqual(json.loads(body)["StreamDescriptionSummary"]["StreamName"],
                         "h1-beside-h2")

    def test_h2load_put_records_on_many_concurrent_streams(self):
        self.create_stream("h2load", shards=2)
        records = [{"Data": b64(f"record-{i}".encode()), "PartitionKey": f"p{i}"}
                   for i in range(10)]
        body_file = os.path.join(self.server.workdir, "put-records.json")
        with open(body_file, "w") as f:
            json.dump({"StreamName": "h2load", "Records": records}, f)
        before = self.metrics()
        p = subprocess.run(
            [tool("h2load"), "-n", "400", "-c", "4", "-m", "8", "-d", body_file,
             "-H", f"x-amz-target: {harness.TARGET_PREFIX}PutRecords",
             "-H", f"content-type: {harness.CONTENT_TYPE}", self.server.endpoint + "/"],
            capture_output=True, text=True, timeout=harness.scaled(120))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"requests: 400 total, 400 started, 400 done, 400 succeeded")
        self.assertRegex(p.stdout, r"status codes: 400 2xx, 0 3xx, 0 4xx, 0 5xx")
        # Every record of every request is in the stream.
        total = 0
        for shard in self.client.list_shards(StreamName="h2load")["Shards"]:
            it = self.client.get_shard_iterator(StreamName="h2load", ShardId=shard["ShardId"],
                                                ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            got, _ = harness.read_shard(self.client, it)
            total += len(got)
        self.assertEqual(total, 4000)
        after = self.metrics()
        self.assertGreaterEqual(after["tideline_http2_connections_total"]
                                - before["tideline_http2_connections_total"], 4)
        self.assertGreaterEqual(after["tideline_http2_streams_total"]
                                - before["tideline_http2_streams_total"], 400)
        self.assertGreaterEqual(after["tideline_http2_streams_closed_total"],
                                before["tideline_http2_streams_closed_total"] + 400)

    def test_a_ping_flood_gets_goaway_enhance_your_calm(self):
        calm = 'tideline_http2_goaway_errors_total{reason="enhance_your_calm"}'
        before = self.metrics()[calm]
        with socket.create_connection(("127.0.0.1", self.server.port),
                                      timeout=harness.scaled(30)) as s:
            s.sendall(PREFACE + frame(0x4, 0, 0))
            try:
                s.sendall(frame(0x6, 0, 0, b"flooding") * 2000)
            except OSError:
                pass  # the server may have closed already; what it said matters
            received = b""
            while True:  # until the server closes (the socket timeout bounds it)
                try:
                    chunk = s.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                received += chunk
        goaways = [f for f in frames(received) if f[0] == GOAWAY]
        self.assertEqual(len(goaways), 1, frames(received)[:5])
        self.assertEqual(struct.unpack(">I", goaways[0][3][4:8])[0], ENHANCE_YOUR_CALM)
        self.assertEqual(self.metrics()[calm], before + 1)


SIGNER = ("AKIDH2", "h2-secret-0123456789")


class Http2SigV4Test(ServerTestCase):
    """SigV4 over h2c: the signature and the region come from headers as over HTTP/1.1 (host
    from :authority)."""

    @classmethod
    def setUpClass(cls):
        cls.server = harness.TidelineServer(name=cls.__name__)
        config = os.path.join(cls.server.workdir, "auth.yaml")
        with open(config, "w") as f:
            f.write(f"""auth:
  mode: sigv4
  credentials:
    - access_key_id: {SIGNER[0]}
      secret_access_key: {SIGNER[1]}
      allow: ["kinesis:*", "tideline:*"]
      streams: ["*"]
""")
        cls.server.extra_args = ["--config", config]
        cls.server.start()
        cls.client = boto3_client(cls.server, harness.REGION)

    def signed(self, operation, payload, region=harness.REGION, secret=SIGNER[1]):
        body = json.dumps(payload).encode()
        req = AWSRequest(method="POST", url=self.server.endpoint + "/", data=body,
                         headers={"X-Amz-Target": harness.TARGET_PREFIX + operation,
                                  "Content-Type": harness.CONTENT_TYPE})
        botocore.auth.SigV4Auth(Credentials(SIGNER[0], secret), "kinesis", region).add_auth(req)
        extra = [(k, v) for k, v in req.headers.items()
                 if k.lower() not in ("x-amz-target", "content-type")]
        version, status, headers, data = curl(
            "--http2-prior-knowledge", *kinesis_args(operation, extra),
            self.server.endpoint + "/", data=body)
        self.assertEqual(version, "2")
        return status, json.loads(data) if data else None

    def test_signed_calls_over_h2c_act_in_the_signed_region(self):
        status, body = self.signed("CreateStream", {"StreamName": "signed-h2", "ShardCount": 1},
                                   region="us-west-2")
        self.assertEqual(status, 200, body)
        west = boto3_client(self.server, "us-west-2")
        harness.wait_stream_active(west, "signed-h2")
        status, body = self.signed("ListStreams", {}, region="us-west-2")
        self.assertEqual(status, 200, body)
        self.assertIn("signed-h2", body["StreamNames"])
        status, body = self.signed("ListStreams", {})
        self.assertEqual(status, 200, body)
        self.assertNotIn("signed-h2", body["StreamNames"])
        status, body = self.signed("PutRecord", {"StreamName": "signed-h2", "Data": b64(b"x"),
                                                 "PartitionKey": "p"}, region="us-west-2")
        self.assertEqual(status, 200, body)
        self.assertTrue(body["SequenceNumber"])

    def test_bad_or_missing_signatures_are_refused_over_h2c(self):
        status, body = self.signed("ListStreams", {}, secret="not-the-secret")
        self.assertEqual(status, 400)
        self.assertEqual(body["__type"], "InvalidSignatureException", body)
        version, status, _, data = curl("--http2-prior-knowledge", *kinesis_args("ListStreams"),
                                        self.server.endpoint + "/", data=b"{}")
        self.assertEqual((version, status), ("2", 400))
        self.assertEqual(json.loads(data)["__type"], "MissingAuthenticationTokenException")


def boto3_client(server, region):
    import boto3
    return boto3.client("kinesis", endpoint_url=server.endpoint, region_name=region,
                        aws_access_key_id=SIGNER[0], aws_secret_access_key=SIGNER[1],
                        config=botocore.config.Config(retries={"max_attempts": 1}))


class Http2TlsTest(unittest.TestCase):
    """h2 by ALPN on the TLS port; HTTP/1.1 when the client asks for it or offers no ALPN."""

    @classmethod
    def setUpClass(cls):
        from test_tls import Pki, TlsServer
        cls.tmp = tempfile.mkdtemp(prefix="tideline-h2tls-")
        pki = Pki(os.path.join(cls.tmp, "pki"))
        cert, key = pki.issue("server", "tideline-h2", 2001)
        config = os.path.join(cls.tmp, "tideline.yaml")
        with open(config, "w") as f:
            f.write(f"server:\n  tls:\n    cert_file: {cert}\n    key_file: {key}\n")
        cls.server = TlsServer(pki.ca_file, extra_args=["--config", config],
                               name=cls.__name__)
        cls.server.start()
        cls.ca_file = pki.ca_file

    @classmethod
    def tearDownClass(cls):
        harness.stop_and_clean(cls.server, lambda: shutil.rmtree(cls.tmp, ignore_errors=True))

    def alpn(self, offered):
        ctx = ssl.create_default_context(cafile=self.ca_file)
        if offered is not None:
            ctx.set_alpn_protocols(offered)
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                chosen = tls.selected_alpn_protocol()
                if chosen != "h2":
                    tls.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    self.assertTrue(tls.recv(4096).startswith(b"HTTP/1.1 200"))
                return chosen

    def test_alpn_prefers_h2_and_keeps_http11(self):
        self.assertEqual(self.alpn(["h2", "http/1.1"]), "h2")
        self.assertEqual(self.alpn(["http/1.1"]), "http/1.1")
        self.assertIsNone(self.alpn(None))  # no ALPN: HTTP/1.1

    def test_kinesis_calls_over_h2_with_curl_and_h2load(self):
        tls = ["--cacert", self.ca_file]
        version, status, _, body = curl("--http2", *tls, *kinesis_args("CreateStream"),
                                        self.server.endpoint + "/",
                                        data=b'{"StreamName":"tls-h2","ShardCount":1}')
        self.assertEqual((version, status), ("2", 200), body)
        harness.wait_stream_active(self.server.boto3_client(), "tls-h2")
        version, status, headers, body = curl(
            "--http2", *tls, *kinesis_args("PutRecord"), self.server.endpoint + "/",
            data=json.dumps({"StreamName": "tls-h2", "Data": b64(b"over h2"),
                             "PartitionKey": "p"}).encode())
        self.assertEqual((version, status), ("2", 200), body)
        self.assertEqual(len(headers["x-amzn-requestid"]), 36)
        version, status, _, body = curl("--http1.1", *tls, self.server.endpoint + "/health")
        self.assertEqual((version, status, body), ("1.1", 200, b"ok"))
        p = subprocess.run([tool("h2load"), "-n", "200", "-c", "2", "-m", "4",
                            self.server.endpoint + "/health"],
                           capture_output=True, text=True, timeout=harness.scaled(120))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("Application protocol: h2", p.stdout)
        self.assertRegex(p.stdout, r"status codes: 200 2xx")
        # boto3 (HTTP/1.1) reads what curl wrote over h2.
        client = self.server.boto3_client()
        it = client.get_shard_iterator(StreamName="tls-h2", ShardId="shardId-000000000000",
                                       ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        records = client.get_records(ShardIterator=it)["Records"]
        self.assertEqual([r["Data"] for r in records], [b"over h2"])


class Http2SubscriptionStopTest(unittest.TestCase):
    """SubscribeToShard over h2c (curl), then SIGTERM: the server ends the live subscription's
    stream and exits cleanly, and curl sees a complete HTTP/2 response of whole events."""

    def test_stop_ends_a_live_h2_subscription_cleanly(self):
        server = harness.TidelineServer(name=type(self).__name__)
        server.start()
        curl_proc = None
        try:
            client = server.boto3_client()
            client.create_stream(StreamName="h2-sub", ShardCount=1)
            harness.wait_stream_active(client, "h2-sub")
            arn = client.describe_stream_summary(
                StreamName="h2-sub")["StreamDescriptionSummary"]["StreamARN"]
            consumer = client.register_stream_consumer(StreamARN=arn, ConsumerName="c")
            consumer_arn = consumer["Consumer"]["ConsumerARN"]
            deadline = time.monotonic() + harness.scaled(30)
            while client.describe_stream_consumer(ConsumerARN=consumer_arn)[
                    "ConsumerDescription"]["ConsumerStatus"] != "ACTIVE":
                self.assertLess(time.monotonic(), deadline, "consumer never ACTIVE")
                time.sleep(0.05)  # status polling, bounded by the deadline
            client.put_record(StreamName="h2-sub", Data=b"before stop", PartitionKey="k")
            body = json.dumps({"ConsumerARN": consumer_arn, "ShardId": "shardId-000000000000",
                               "StartingPosition": {"Type": "TRIM_HORIZON"}}).encode()
            curl_proc = subprocess.Popen(
                [tool("curl"), "-sS", "-N", "--http2-prior-knowledge",
                 *kinesis_args("SubscribeToShard"), "--data-binary", "@-",
                 server.endpoint + "/"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            curl_proc.stdin.write(body)
            curl_proc.stdin.close()
            curl_proc.stdin = None  # communicate() below must not flush it
            events = EventStreamBuffer()
            received = []
            deadline = time.monotonic() + harness.scaled(30)
            # Until the initial response and the event with the record are in.
            while len(received) < 2:
                left = deadline - time.monotonic()
                self.assertGreater(left, 0, f"no events over h2c: {received}")
                ready, _, _ = select.select([curl_proc.stdout], [], [], left)
                if ready:
                    chunk = os.read(curl_proc.stdout.fileno(), 65536)
                    if not chunk:
                        _, err = curl_proc.communicate(timeout=harness.scaled(30))
                        self.fail(f"curl ended ({curl_proc.returncode}) after {received}: "
                                  f"{err.decode(errors='replace')}")
                    events.add_data(chunk)
                    received += list(events)
            self.assertEqual(received[0].headers[":event-type"], "initial-response")
            event = json.loads(received[1].payload)
            self.assertEqual([unb64(r["Data"]) for r in event["Records"]], [b"before stop"])
            # SIGTERM with the subscription live: a clean exit, and the stream ends as a whole
            # HTTP/2 response (curl exits 0: END_STREAM, no reset).
            self.assertEqual(server.stop(), 0, server.log_tail())
            rest, err = curl_proc.communicate(timeout=harness.scaled(30))
            self.assertEqual(curl_proc.returncode, 0, err.decode(errors="replace"))
            events.add_data(rest)
            for message in events:
                self.assertEqual(message.headers[":message-type"], "event")
        finally:
            if curl_proc is not None and curl_proc.poll() is None:
                curl_proc.kill()
                curl_proc.wait()
            harness.stop_and_clean(server)


if __name__ == "__main__":
    harness.main()
