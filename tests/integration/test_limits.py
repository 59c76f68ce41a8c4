#!/usr/bin/env python3
"""The server against many and slow clients: /health stays fast while thousands of idle and
slow-header connections are open, and running out of file descriptors pauses accepting (with a
bounded log) until connections close. Run: python3 test_limits.py --tideline build/cli/tideline"""

import http.client
import os
import resource
import socket
import subprocess
import tempfile
import time
import unittest

import harness

IDLE_CONNECTIONS = 3000
SLOW_HEADER_CONNECTIONS = 500


def raise_own_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def write_config(text):
    fd, path = tempfile.mkstemp(prefix="tideline-limits-", suffix=".yaml")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def metric(conn, name):
    """Value of sample `name` from GET /metrics on the keep-alive connection `conn`."""
    conn.request("GET", "/metrics")
    resp = conn.getresponse()
    body = resp.read().decode()
    for line in body.splitlines():
        if line.startswith(name + " "):
            return int(float(line.split()[-1]))
    raise AssertionError(f"{name} not in /metrics")


def wait_for_metric(conn, name, at_least, max_polls=20000):
    value = 0
    for _ in range(max_polls):  # bounded; each poll is one request on `conn`
        value = metric(conn, name)
        if value >= at_least:
            return value
    raise AssertionError(f"{name} stayed at {value} (< {at_least})")


def log_lines(server):
    with open(server.log_path, "rb") as f:
        return f.read().count(b"\n")


def wait_healthy_again(server, deadline_s=30.0):
    deadline = time.monotonic() + harness.scaled(deadline_s)
    while time.monotonic() < deadline:
        if server.health_status() == 200:
            return
        time.sleep(0.05)  # polling for readiness, bounded by the deadline
    raise AssertionError("the server did not serve /health again\n" + server.log_tail())


class ManyConnectionsTest(harness.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        if raise_own_fd_limit() < IDLE_CONNECTIONS + SLOW_HEADER_CONNECTIONS + 200:
            raise AssertionError("RLIMIT_NOFILE's hard limit is too low for this test")
        # Long enough that no slow header times out while /health is measured.
        cls.extra_args = ["--config", write_config("server:\n  header_timeout_s: 60\n")]
        super().setUpClass()

    def test_health_answers_within_1s_with_thousands_of_idle_and_slow_connections(self):
        sockets = []
        try:
            for _ in range(IDLE_CONNECTIONS):
                s = socket.create_connection(("127.0.0.1", self.server.port), timeout=30)
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                sockets.append(s)
            for s in sockets:  # each got its answer: it is now an idle keep-alive connection
                self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 200"))
            for _ in range(SLOW_HEADER_CONNECTIONS):
                s = socket.create_connection(("127.0.0.1", self.server.port), timeout=30)
                s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Kinesis_2013")
                sockets.append(s)
            conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
            wait_for_metric(conn, "tideline_http_connections_accepted_total",
                            IDLE_CONNECTIONS + SLOW_HEADER_CONNECTIONS + 1)
            conn.close()

            start = time.monotonic()
            status = self.server.health_status()
            elapsed = time.monotonic() - start
            self.assertEqual(status, 200)
            self.assertLess(elapsed, harness.scaled(1.0),
                            "GET /health on a new connection took too long")
        finally:
            for s in sockets:
                s.close()


class LowDescriptorLimitTest(unittest.TestCase):
    """The server runs with a small RLIMIT_NOFILE; clients open far more connections."""

    CLIENTS = 400

    def setUp(self):
        raise_own_fd_limit()
        self.server = harness.TidelineServer(name="low-nofile")
        self.sockets = []

    def tearDown(self):
        for s in self.sockets:
            s.close()
        try:
            self.assertTrue(self.server.alive(), "the server died\n" + self.server.log_tail())
        finally:
            self.server.cleanup()

    def open_clients(self):
        for _ in range(self.CLIENTS):
            s = socket.socket()
            s.setblocking(False)
            # Completes in the kernel's backlog whether or not the server accepts it; once the
            # backlog is full the SYN is dropped and it stays in progress, which is fine too.
            s.connect_ex(("127.0.0.1", self.server.port))
            self.sockets.append(s)

    def close_clients(self):
        for s in self.sockets:
            s.close()
        self.sockets = []

    def test_exhausted_descriptors_pause_accepting_with_a_bounded_log(self):
        self.server.start()
        # The limit applies from now on; the server chose max_connections from the larger one,
        # so its accept() runs into EMFILE.
        resource.prlimit(self.server.proc.pid, resource.RLIMIT_NOFILE, (128, 128))
        admin = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        self.assertEqual(metric(admin, "tideline_http_accept_errors_total"), 0)
        lines_before = log_lines(self.server)
        self.open_clients()
        # Accept keeps failing: with backoff that is 10, 20, 40, ... ms apart.
        wait_for_metric(admin, "tideline_http_accept_errors_total", 6)
        self.assertLess(log_lines(self.server) - lines_before, 100)
        admin.close()
        self.close_clients()
        wait_healthy_again(self.server)
        self.assertLess(log_lines(self.server) - lines_before, 100)

    def test_small_limit_lowers_max_connections_and_serves_again_after_a_flood(self):
        # Soft and hard limit both small: the server cannot raise it, and says what it chose.
        orig_popen = subprocess.Popen

        def popen_with_limit(*args, **kwargs):
            kwargs["preexec_fn"] = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (160, 160))
            return orig_popen(*args, **kwargs)

        harness.subprocess.Popen = popen_with_limit
        try:
            self.server.start()
        finally:
            harness.subprocess.Popen = orig_popen
        with open(self.server.log_path, "rb") as f:
            self.assertIn(b"max_connections lowered from 4096", f.read())
        lines_before = log_lines(self.server)
        admin = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        self.assertEqual(metric(admin, "tideline_http_accept_paused_total"), 0)
        self.open_clients()
        # Every slot is taken (the connections send nothing): the listener pauses.
        wait_for_metric(admin, "tideline_http_accept_paused_total", 1)
        admin.close()
        self.close_clients()
        wait_healthy_again(self.server)
        self.assertLess(log_lines(self.server) - lines_before, 100)


if __name__ == "__main__":
    harness.main()
