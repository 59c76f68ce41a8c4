#!/usr/bin/env python3
"""HTTPS on the API port (server.tls): boto3 and the AWS CLI over TLS with a throwaway CA made by
the `openssl` command, untrusted clients, TLS 1.1 and plain HTTP refused, a silent client timed
out of its handshake, SIGHUP certificate reloads under load (and a broken reload that keeps the
old certificate), and start-up errors that name the file.
Run: python3 test_tls.py --tideline build/cli/tideline"""

import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
import warnings

import boto3
import botocore.config
import botocore.exceptions

import harness

HANDSHAKE_TIMEOUT_S = 2


def openssl(*args, cwd):
    p = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, text=True,
                       timeout=60)
    if p.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)} failed: {p.stderr}")


class Pki:
    """A throwaway CA in `directory` that signs server certificates for 127.0.0.1/localhost."""

    def __init__(self, directory, name="tideline test CA"):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.ca_key = os.path.join(directory, "ca.key")
        self.ca_file = os.path.join(directory, "ca.crt")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", self.ca_key, "-out", self.ca_file, "-days", "2",
                "-subj", f"/CN={name}", cwd=directory)
        with open(os.path.join(directory, "san.cnf"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")

    def issue(self, stem, cn, serial):
        """Makes STEM.key and STEM.crt (a new key) and returns their paths."""
        key = os.path.join(self.dir, stem + ".key")
        csr = os.path.join(self.dir, stem + ".csr")
        crt = os.path.join(self.dir, stem + ".crt")
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", key, "-out", csr, "-subj", f"/CN={cn}", cwd=self.dir)
        openssl("x509", "-req", "-in", csr, "-CA", self.ca_file, "-CAkey", self.ca_key,
                "-set_serial", str(serial), "-days", "2", "-extfile", "san.cnf", "-out", crt,
                cwd=self.dir)
        return crt, key


def install(src, dst):
    """Replaces `dst` with a copy of `src` atomically (as a deployment tool would)."""
    tmp = dst + ".new"
    with open(src, "rb") as f, open(tmp, "wb") as g:
        g.write(f.read())
    os.replace(tmp, dst)


class TlsServer(harness.TidelineServer):
    """`tideline serve` with server.tls: its endpoint is https and its checks trust `ca_file`."""

    def __init__(self, ca_file, **kwargs):
        super().__init__(**kwargs)
        self.ca_file = ca_file

    @property
    def endpoint(self):
        return f"https://127.0.0.1:{self.port}"

    def ssl_context(self):
        return ssl.create_default_context(cafile=self.ca_file)

    def health_status(self):
        try:
            with urllib.request.urlopen(self.endpoint + "/health", timeout=2,
                                        context=self.ssl_context()) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except (OSError, http.client.HTTPException):
            return None

    def boto3_client(self, verify=None):
        cfg = botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=5,
                                     read_timeout=60)
        return boto3.client("kinesis", endpoint_url=self.endpoint, region_name=harness.REGION,
                            aws_access_key_id=harness.ACCESS_KEY,
                            aws_secret_access_key=harness.SECRET_KEY, config=cfg,
                            verify=self.ca_file if verify is None else verify)

    def connection(self, timeout=30):
        return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                           context=self.ssl_context())

    def metrics(self):
        """{'name{labels}': value} of GET /metrics, on a new connection."""
        conn = self.connection()
        try:
            conn.request("GET", "/metrics")
            body = conn.getresponse().read().decode()
        finally:
            conn.close()
        out = {}
        for line in body.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


def kinesis_call(conn, operation, body):
    """One JSON 1.1 request on the keep-alive connection `conn`; (status, parsed body)."""
    conn.request("POST", "/", body=json.dumps(body).encode(),
                 headers={"X-Amz-Target": harness.TARGET_PREFIX + operation,
                          "Content-Type": harness.CONTENT_TYPE})
    resp = conn.getresponse()
    data = resp.read()
    return resp.status, (json.loads(data) if data else None)


def peer_serial(server):
    """Serial number (int) of the certificate a new connection to `server` is shown."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        with server.ssl_context().wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            return int(tls.getpeercert()["serialNumber"], 16)


def wait_until(predicate, what, deadline_s=30.0):
    """Polls `predicate` (bounded) until it is true: for effects of a signal, which the server
    handles asynchronously."""
    deadline = time.monotonic() + deadline_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


class TlsTest(unittest.TestCase):
    server = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="tideline-tls-")
        cls.pki = Pki(os.path.join(cls.tmp, "pki"))
        cls.first_crt, cls.first_key = cls.pki.issue("first", "tideline-first", 1001)
        # The files the server is configured with; tests replace their contents.
        cls.cert_file = os.path.join(cls.tmp, "tls.crt")
        cls.key_file = os.path.join(cls.tmp, "tls.key")
        install(cls.first_crt, cls.cert_file)
        install(cls.first_key, cls.key_file)
        config = os.path.join(cls.tmp, "tideline.yaml")
        with open(config, "w") as f:
            f.write("server:\n  tls:\n"
                    f"    cert_file: {cls.cert_file}\n    key_file: {cls.key_file}\n"
                    f"    handshake_timeout_s: {HANDSHAKE_TIMEOUT_S}\n")
        cls.server = TlsServer(cls.pki.ca_file, extra_args=["--config", config], name="tls")
        cls.server.start()
        cls.client = cls.server.boto3_client()
        cls.client.create_stream(StreamName="tls", ShardCount=2)
        harness.wait_stream_active(cls.client, "tls")

    @classmethod
    def tearDownClass(cls):
        harness.stop_and_clean(cls.server)

    def tearDown(self):
        self.assertTrue(self.server.alive(), "the server died\n" + self.server.log_tail())
        self.assertEqual(self.server.health_status(), 200)

    def serve_certificate(self, crt, key):
        """Installs `crt`/`key` and reloads; returns once new connections see `crt`."""
        install(crt, self.cert_file)
        install(key, self.key_file)
        serial = int(openssl_serial(crt), 16)
        reloads = self.server.metrics()['tideline_tls_reloads_total{result="ok"}']
        self.server.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: self.server.metrics()['tideline_tls_reloads_total{result="ok"}'] >
                   reloads, "the reload")
        self.assertEqual(peer_serial(self.server), serial)

    # ---- clients over https -------------------------------------------------------------

    def test_boto3_create_put_get(self):
        self.client.create_stream(StreamName="tls-boto3", ShardCount=1)
        harness.wait_stream_active(self.client, "tls-boto3")
        put = self.client.put_record(StreamName="tls-boto3", Data=b"over tls",
                                     PartitionKey="k")
        batch = self.client.put_records(StreamName="tls-boto3", Records=[
            {"Data": f"r{i}".encode(), "PartitionKey": "k"} for i in range(10)])
        self.assertEqual(batch["FailedRecordCount"], 0)
        shard = put["ShardId"]
        it = self.client.get_shard_iterator(StreamName="tls-boto3", ShardId=shard,
                                            ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        records, _ = harness.read_shard(self.client, it, expect_at_least=11)
        self.assertEqual([r["Data"] for r in records],
                         [b"over tls"] + [f"r{i}".encode() for i in range(10)])

    def test_aws_cli_create_put_get(self):
        ca = ["--ca-bundle", self.server.ca_file]
        code, _, err = harness.run_aws(self.server, "kinesis", "create-stream", "--stream-name",
                                       "tls-cli", "--shard-count", "1", *ca)
        self.assertEqual(code, 0, err)
        harness.wait_stream_active(self.client, "tls-cli")
        code, put, err = harness.run_aws(self.server, "kinesis", "put-record", "--stream-name",
                                         "tls-cli", "--partition-key", "k", "--data",
                                         "cli over tls", *ca)
        self.assertEqual(code, 0, err)
        code, it, err = harness.run_aws(self.server, "kinesis", "get-shard-iterator",
                                        "--stream-name", "tls-cli", "--shard-id", put["ShardId"],
                                        "--shard-iterator-type", "TRIM_HORIZON", *ca)
        self.assertEqual(code, 0, err)
        code, got, err = harness.run_aws(self.server, "kinesis", "get-records", "--shard-iterator",
                                         it["ShardIterator"], *ca)
        self.assertEqual(code, 0, err)
        self.assertEqual([harness.unb64(r["Data"]) for r in got["Records"]], [b"cli over tls"])
        # Without the CA the CLI refuses the server.
        code, _, err = harness.run_aws(self.server, "kinesis", "list-streams")
        self.assertNotEqual(code, 0)
        self.assertIn("SSL", err)

    def test_client_not_trusting_the_ca_fails(self):
        other = Pki(os.path.join(self.tmp, "other-ca"), name="some other CA")
        untrusting = self.server.boto3_client(verify=other.ca_file)
        with self.assertRaises(botocore.exceptions.SSLError):
            untrusting.list_streams()
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as raw:
            ctx = ssl.create_default_context(cafile=other.ca_file)
            with self.assertRaises(ssl.SSLCertVerificationError):
                ctx.wrap_socket(raw, server_hostname="127.0.0.1")

    def test_tls11_refused_tls12_and_alpn_accepted(self):
        failures = self.server.metrics()['tideline_tls_handshake_failures_total{reason="error"}']

        def context(version):
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.load_verify_locations(self.server.ca_file)
            # The client's own policy must allow TLS 1.1, so that refusing it is the server's.
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
            warnings.simplefilter("ignore", DeprecationWarning)  # TLSv1_1, on purpose
            ctx.minimum_version = version
            ctx.maximum_version = version
            ctx.set_alpn_protocols(["http/1.1"])  # h2 by ALPN: test_http2.py
            return ctx

        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as raw:
            with self.assertRaises(ssl.SSLError) as caught:
                context(ssl.TLSVersion.TLSv1_1).wrap_socket(raw, server_hostname="127.0.0.1")
        self.assertIn("PROTOCOL_VERSION", str(caught.exception).upper().replace(" ", "_"))
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as raw:
            with context(ssl.TLSVersion.TLSv1_2).wrap_socket(
                    raw, server_hostname="127.0.0.1") as tls:
                self.assertEqual(tls.version(), "TLSv1.2")
                self.assertEqual(tls.selected_alpn_protocol(), "http/1.1")
                tls.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                self.assertTrue(tls.recv(4096).startswith(b"HTTP/1.1 200"))
        self.assertGreater(
            self.server.metrics()['tideline_tls_handshake_failures_total{reason="error"}'],
            failures)

    def test_plain_http_to_tls_port_gets_no_http_answer(self):
        failures = self.server.metrics()['tideline_tls_handshake_failures_total{reason="error"}']
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            received = b""
            while True:  # until the server closes (the socket timeout bounds it)
                chunk = s.recv(4096)
                if not chunk:
                    break
                received += chunk
        self.assertFalse(received.startswith(b"HTTP/"), received[:64])
        self.assertGreater(
            self.server.metrics()['tideline_tls_handshake_failures_total{reason="error"}'],
            failures)

    def test_silent_client_is_closed_after_the_handshake_timeout(self):
        timeouts = self.server.metrics()['tideline_tls_handshake_failures_total{reason="timeout"}']
        with socket.create_connection(("127.0.0.1", self.server.port),
                                      timeout=HANDSHAKE_TIMEOUT_S + 20) as s:
            started = time.monotonic()
            self.assertEqual(s.recv(1), b"")  # closed by the server, not by our timeout
            waited = time.monotonic() - started
        self.assertLess(waited, HANDSHAKE_TIMEOUT_S + 10)
        self.assertGreater(
            self.server.metrics()['tideline_tls_handshake_failures_total{reason="timeout"}'],
            timeouts)

    # ---- reloads --------------------------------------------------------------------------

    def test_reload_under_load_keeps_every_request_and_shows_new_certificate(self):
        old_serial = peer_serial(self.server)
        new_crt, new_key = self.pki.issue("second", "tideline-second", 2002)
        stop = threading.Event()
        counts = {"keepalive_ok": 0, "fresh_ok": 0}
        errors = []
        keepalive = self.server.connection()

        def keepalive_puts():
            n = 0
            try:
                while not stop.is_set():
                    status, body = kinesis_call(keepalive, "PutRecord", {
                        "StreamName": "tls", "PartitionKey": f"k{n}",
                        "Data": harness.b64(b"x" * 512)})
                    if status != 200:
                        errors.append(("keepalive", status, body))
                        return
                    n += 1
                    counts["keepalive_ok"] = n
            except Exception as e:  # noqa: BLE001 - every failure is reported by the test
                errors.append(("keepalive", repr(e)))

        def fresh_connection_puts():
            n = 0
            try:
                while not stop.is_set():
                    conn = self.server.connection()
                    try:
                        status, body = kinesis_call(conn, "PutRecords", {
                            "StreamName": "tls", "Records": [
                                {"PartitionKey": f"f{n}-{i}", "Data": harness.b64(b"y" * 256)}
                                for i in range(20)]})
                    finally:
                        conn.close()
                    if status != 200 or body["FailedRecordCount"] != 0:
                        errors.append(("fresh", status, body))
                        return
                    n += 1
                    counts["fresh_ok"] = n
            except Exception as e:  # noqa: BLE001
                errors.append(("fresh", repr(e)))

        threads = [threading.Thread(target=keepalive_puts),
                   threading.Thread(target=fresh_connection_puts)]
        for t in threads:
            t.start()
        try:
            wait_until(lambda: errors or min(counts.values()) >= 20, "load before the reload")
            keepalive_socket = keepalive.sock
            self.serve_certificate(new_crt, new_key)
            after = dict(counts)
            wait_until(lambda: errors or all(counts[k] >= after[k] + 20 for k in counts),
                       "load after the reload")
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=60)
        self.assertEqual(errors, [])
        # The keep-alive connection was never re-established: it kept its TLS session (and
        # the old certificate) across the reload.
        self.assertIs(keepalive.sock, keepalive_socket)
        self.assertEqual(int(keepalive.sock.getpeercert()["serialNumber"], 16), old_serial)
        status, _ = kinesis_call(keepalive, "ListStreams", {})
        self.assertEqual(status, 200)
        keepalive.close()
        self.assertEqual(peer_serial(self.server), 2002)
        self.assertNotEqual(old_serial, 2002)

    def test_broken_reload_keeps_the_old_certificate(self):
        self.serve_certificate(self.first_crt, self.first_key)
        other_crt, other_key = self.pki.issue("other", "tideline-other", 3003)
        garbage = os.path.join(self.tmp, "garbage.key")
        with open(garbage, "w") as f:
            f.write("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
        cases = [("mismatched key", self.first_crt, other_key, "does not match the certificate"),
                 ("garbage key", other_crt, garbage, "no unencrypted PEM private key")]
        for what, crt, key, message in cases:
            with self.subTest(what):
                failed = self.server.metrics()['tideline_tls_reloads_total{result="error"}']
                install(crt, self.cert_file)
                install(key, self.key_file)
                logged = self.server.log_text().count(f"tls.key_file: {self.key_file}: {message}")
                self.server.proc.send_signal(signal.SIGHUP)
                # The error names the file, in the log and in /metrics.
                wait_until(lambda: self.server.log_text().count(
                    f"tls.key_file: {self.key_file}: {message}") > logged, "the logged error")
                self.assertGreater(
                    self.server.metrics()['tideline_tls_reloads_total{result="error"}'], failed)
                self.assertEqual(peer_serial(self.server), 1001)
                self.client.put_record(StreamName="tls", Data=b"still serving",
                                       PartitionKey="k")
        self.serve_certificate(self.first_crt, self.first_key)


def openssl_serial(crt):
    p = subprocess.run(["openssl", "x509", "-noout", "-serial", "-in", crt], capture_output=True,
                       text=True, check=True, timeout=30)
    return p.stdout.strip().split("=", 1)[1]


class TlsLimitsTest(unittest.TestCase):
    """The plain server's limits hold for TLS connections: header timeout after the handshake,
    connection slots, body size."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="tideline-tls-limits-")
        cls.pki = Pki(os.path.join(cls.tmp, "pki"))
        crt, key = cls.pki.issue("limits", "limits", 5)
        config = os.path.join(cls.tmp, "tideline.yaml")
        with open(config, "w") as f:
            f.write("server:\n  max_connections: 2\n  header_timeout_s: 3\n"
                    "  max_body_bytes: 4096\n"
                    f"  tls:\n    cert_file: {crt}\n    key_file: {key}\n")
        cls.server = TlsServer(cls.pki.ca_file, extra_args=["--config", config],
                               name="tls-limits")
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        harness.stop_and_clean(cls.server)

    def handshaken(self):
        raw = socket.create_connection(("127.0.0.1", self.server.port), timeout=30)
        return self.server.ssl_context().wrap_socket(raw, server_hostname="127.0.0.1")

    def test_header_timeout_applies_after_the_handshake(self):
        before = self.server.metrics()["tideline_http_header_timeouts_total"]
        with self.handshaken() as tls:
            started = time.monotonic()
            self.assertEqual(tls.recv(1), b"")  # closed by the server (close_notify, then EOF)
            self.assertLess(time.monotonic() - started, 10)
        self.assertGreater(self.server.metrics()["tideline_http_header_timeouts_total"], before)

    def test_connection_slots_and_body_limit_hold_for_tls(self):
        body = json.dumps({"StreamName": "s", "PartitionKey": "k",
                           "Data": harness.b64(b"z" * 8192)})
        conn = self.server.connection()
        try:
            conn.request("POST", "/", body=body, headers={
                "X-Amz-Target": harness.TARGET_PREFIX + "PutRecord",
                "Content-Type": harness.CONTENT_TYPE})
            resp = conn.getresponse()
            self.assertEqual(resp.status, 413)
            resp.read()
        finally:
            conn.close()
        # Two idle TLS connections take both full slots; the next one may only ask /health.
        held = [self.handshaken(), self.handshaken()]
        try:
            with self.handshaken() as third:
                third.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: "
                              b"Kinesis_20131202.ListStreams\r\nContent-Type: "
                              b"application/x-amz-json-1.1\r\nContent-Length: 2\r\n\r\n{}")
                answer = third.recv(4096)
                self.assertTrue(answer.startswith(b"HTTP/1.1 503"), answer[:80])
        finally:
            for h in held:
                h.close()


class TlsStartupErrorTest(unittest.TestCase):
    """Files that cannot serve are a configuration error naming the file, line and key."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="tideline-tls-start-")
        cls.pki = Pki(os.path.join(cls.tmp, "pki"))
        cls.crt, cls.key = cls.pki.issue("a", "a", 1)
        cls.other_crt, cls.other_key = cls.pki.issue("b", "b", 2)

    def serve(self, cert, key):
        config = os.path.join(self.tmp, "bad.yaml")
        with open(config, "w") as f:
            f.write(f"server:\n  tls:\n    cert_file: {cert}\n    key_file: {key}\n")
        p = subprocess.run([harness.TIDELINE_BINARY, "serve", "--config", config, "--data-dir",
                            os.path.join(self.tmp, "data"), "--listen", "127.0.0.1:0"],
                           capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0, "serve started with " + p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "data")), "started something")
        return config, p.stderr

    def test_missing_cert_file(self):
        missing = os.path.join(self.tmp, "missing.crt")
        config, err = self.serve(missing, self.key)
        self.assertIn(f"{config}:3: server.tls.cert_file: {missing}: No such file or directory",
                      err)

    def test_unreadable_key_file(self):
        unreadable = os.path.join(self.tmp, "unreadable.key")
        with open(self.key) as f, open(unreadable, "w") as g:
            g.write(f.read())
        os.chmod(unreadable, 0)
        if os.access(unreadable, os.R_OK):  # root reads anything: make it a directory instead
            os.unlink(unreadable)
            os.mkdir(unreadable)
        config, err = self.serve(self.crt, unreadable)
        self.assertRegex(err, re.escape(f"{config}:4: server.tls.key_file: {unreadable}: "))

    def test_key_not_matching_certificate(self):
        config, err = self.serve(self.crt, self.other_key)
        self.assertIn(f"{config}:4: server.tls.key_file: {self.other_key}: does not match the "
                      f"certificate in {self.crt}", err)

    def test_not_a_certificate(self):
        config, err = self.serve(self.key, self.key)
        self.assertIn(f"{config}:3: server.tls.cert_file: {self.key}: no PEM certificate", err)


if __name__ == "__main__":
    harness.main()
