"""Shared harness of the integration tests: runs the real `tideline serve` binary.

What it provides:
  * TidelineServer: starts `tideline serve` on a free loopback port with a fresh temporary data
    directory, waits for GET /health (bounded polling), can SIGKILL and restart it on the same
    data directory, and cleans everything up.
  * boto3 client factory (dummy credentials, us-east-1, retries disabled).
  * AWS CLI runner (`aws kinesis ... --endpoint-url ... --output json`).
  * A raw JSON 1.1 client over http.client (fast, keep-alive) for load and crash drills.
  * main(): runs a unittest module as a script, prints "N passed, M failed", exits non-zero on
    any failure or error.

Everything fails loudly: a missing boto3, a missing `aws` executable or a missing binary is an
error, never a skip.
"""

import argparse
import atexit
import base64
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

try:
    import boto3
    import botocore.config
    import botocore.exceptions
except ImportError as e:  # fail loudly: the integration suite needs boto3
    raise SystemExit(f"FATAL: boto3/botocore are required by the integration tests: {e}")

REGION = "us-east-1"
ACCESS_KEY = "AKIDTIDELINETEST"
SECRET_KEY = "tideline-test-secret"
TARGET_PREFIX = "Kinesis_20131202."
CONTENT_TYPE = "application/x-amz-json-1.1"

# Set by main() from --tideline.
TIDELINE_BINARY = None


def _time_factor():
    """TIDELINE_TEST_TIME_FACTOR as a number >= 1 (unset, unparseable or below 1: 1), as the C++
    tests read it (tests/util/include/test_util/time_factor.h)."""
    try:
        value = float(os.environ.get("TIDELINE_TEST_TIME_FACTOR", "1"))
    except ValueError:
        return 1.0
    return value if 1.0 <= value <= 1000.0 else 1.0


# Multiplies every wall-clock budget of the integration tests (deadlines, time budgets, iterator
# lifetimes), so that they hold under sanitizers and `ctest -j2`.
TIME_FACTOR = _time_factor()


def scaled(seconds):
    """A wall-clock budget in seconds, multiplied by TIME_FACTOR."""
    return seconds * TIME_FACTOR


# How long a server may take to answer GET /health after it was started.
STARTUP_DEADLINE_S = scaled(30.0)


def free_port():
    """A loopback TCP port that was free a moment ago (the kernel picked it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_clock_past(t):
    """Waits until time.time() > t. Used only where a test needs wall-clock time to pass (iterator
    expiry, a timestamp strictly between two put phases), never to wait for the server."""
    while time.time() <= t:
        time.sleep(min(0.05, max(0.0005, t - time.time())))


class ServerDied(Exception):
    pass


class TidelineServer:
    """One `tideline serve` process; restartable on the same data directory."""

    def __init__(self, extra_args=None, name="tideline"):
        if TIDELINE_BINARY is None:
            raise SystemExit("FATAL: --tideline BINARY was not given")
        self.extra_args = list(extra_args or [])
        self.workdir = tempfile.mkdtemp(prefix=f"{name}-it-")
        self.data_dir = os.path.join(self.workdir, "data")
        self.log_path = os.path.join(self.workdir, "server.log")
        self.proc = None
        self.port = None
        self.starts = 0
        # Also on a failing setUpClass (no tearDownClass) or an early exit: no stray servers.
        atexit.register(self.cleanup)

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        """Starts the process and returns once GET /health answers 200."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        last_error = None
        for _ in range(3):  # a free port can be taken by someone else before we bind it
            self.port = free_port()
            cmd = [TIDELINE_BINARY, "serve", "--data-dir", self.data_dir,
                   "--listen", f"127.0.0.1:{self.port}"] + self.extra_args
            log = open(self.log_path, "ab")
            log.write(f"\n=== start #{self.starts + 1}: {' '.join(cmd)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(cmd, cwd=self.workdir, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            log.close()
            try:
                self._wait_healthy()
                self.starts += 1
                return
            except ServerDied as e:
                last_error = e
        raise RuntimeError(f"tideline did not start: {last_error}\n{self.log_tail()}")

    def _wait_healthy(self):
        deadline = time.monotonic() + STARTUP_DEADLINE_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerDied(f"exited with {self.proc.returncode} before /health")
            if self.health_status() == 200:
                return
            time.sleep(0.02)  # readiness polling, bounded by the deadline
        self.kill()
        raise RuntimeError(f"/health not 200 within {STARTUP_DEADLINE_S}s\n{self.log_tail()}")

    def health_status(self):
        """HTTP status of GET /health, or None when nothing answers."""
        try:
            with urllib.request.urlopen(self.endpoint + "/health", timeout=2) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except (OSError, http.client.HTTPException):
            return None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL (a crash): nothing is flushed or closed by the server."""
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=30)

    def stop(self):
        """SIGTERM and wait for a clean exit; returns the exit code (SIGKILL after 20 s)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                return "killed after SIGTERM timeout"
        return self.proc.returncode

    def cleanup(self):
        self.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return "(no server log)"
        return "--- server log (tail) ---\n" + "\n".join(text.splitlines()[-lines:])

    def pipeline_status(self, name):
        """The server's GET /pipelines/NAME status object of one pipeline."""
        with urllib.request.urlopen(f"{self.endpoint}/pipelines/{name}", timeout=10) as r:
            return json.loads(r.read())["pipelines"][0]

    # ---- clients -------------------------------------------------------------------------

    def boto3_client(self, validate=True, read_timeout=60):
        """A Kinesis client for this server. validate=False lets bad input reach the server."""
        cfg = botocore.config.Config(retries={"max_attempts": 1}, parameter_validation=validate,
                                     connect_timeout=5, read_timeout=read_timeout)
        return boto3.client("kinesis", endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                            config=cfg)

    def raw_client(self, timeout=30):
        return RawKinesis("127.0.0.1", self.port, timeout)


def stop_and_clean(server, *more_cleanups):
    """Stops `server` with SIGTERM, fails unless it exits 0 (with its log's tail), and removes
    its files and then runs `more_cleanups` whatever happened."""
    try:
        code = server.stop()
        if code != 0:
            raise AssertionError(f"tideline did not exit 0 on SIGTERM: {code}\n"
                                 f"{server.log_tail()}")
    finally:
        server.cleanup()
        for cleanup in more_cleanups:
            cleanup()


def aws_cli_env(workdir):
    """Environment for the AWS CLI: dummy credentials, no user config, raw blob input."""
    config = os.path.join(workdir, "aws-config")
    with open(config, "w") as f:
        # v1 always base64-encodes blob arguments itself; this makes v2 do the same.
        f.write("[default]\ncli_binary_format = raw-in-base64-out\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
               AWS_DEFAULT_REGION=REGION, AWS_CONFIG_FILE=config,
               AWS_SHARED_CREDENTIALS_FILE=os.path.join(workdir, "aws-credentials"),
               AWS_PAGER="", AWS_MAX_ATTEMPTS="1", AWS_RETRY_MODE="standard")
    return env


def run_aws(server, *args, timeout=60):
    """Runs `aws <args> --endpoint-url <server> --output json`; returns (exit code, parsed JSON or
    None, stderr)."""
    exe = shutil.which("aws")
    if exe is None:
        raise AssertionError("FATAL: the AWS CLI `aws` is not on PATH (required, never skipped)")
    cmd = [exe] + list(args) + ["--endpoint-url", server.endpoint, "--output", "json"]
    p = subprocess.run(cmd, env=aws_cli_env(server.workdir), capture_output=True, text=True,
                       timeout=timeout)
    out = json.loads(p.stdout) if p.stdout.strip() else None
    return p.returncode, out, p.stderr


class RawKinesis:
    """Minimal JSON 1.1 client on one keep-alive connection (not thread-safe: one per thread)."""

    def __init__(self, host, port, timeout=30):
        self.host, self.port, self.timeout = host, port, timeout
        self.conn = None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def call(self, operation, body):
        """Returns (HTTP status, parsed JSON body). Raises OSError/HTTPException on transport
        failure (after closing the connection)."""
        payload = json.dumps(body).encode()
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            self.conn.request("POST", "/", body=payload, headers={
                "X-Amz-Target": TARGET_PREFIX + operation, "Content-Type": CONTENT_TYPE})
            resp = self.conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if resp.getheader("Connection", "").lower() == "close":
            self.close()
        return resp.status, (json.loads(data) if data else None)


def b64(data):
    return base64.b64encode(data).decode()


def unb64(text):
    return base64.b64decode(text)


def wait_stream_active(client, name, deadline_s=30.0):
    """Polls DescribeStreamSummary until the stream is ACTIVE (CreateStream is asynchronous in
    Kinesis) and returns the summary. The deadline is scaled by TIME_FACTOR."""
    deadline_s = scaled(deadline_s)
    deadline = time.monotonic() + deadline_s
    while True:
        s = client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        if s["StreamStatus"] == "ACTIVE":
            return s
        if time.monotonic() > deadline:
            raise AssertionError(f"stream {name} not ACTIVE after {deadline_s}s: {s}")
        time.sleep(0.02)


def wait_stream_gone(client, name, deadline_s=30.0):
    """Waits with boto3's stream_not_exists waiter (polling every 50 ms instead of its 10 s)
    until DeleteStream has finished (the stream is DELETING for server.status_delay_ms)."""
    delay = 0.05
    client.get_waiter("stream_not_exists").wait(
        StreamName=name,
        WaiterConfig={"Delay": delay, "MaxAttempts": max(1, int(scaled(deadline_s) / delay))})


def read_shard(client, iterator, expect_at_least=0, max_calls=10000):
    """Follows NextShardIterator from `iterator` until the shard is caught up (an empty response
    with MillisBehindLatest == 0) and at least `expect_at_least` records were read. Returns
    (records, responses)."""
    records, responses = [], []
    for _ in range(max_calls):
        r = client.get_records(ShardIterator=iterator, Limit=10000)
        responses.append(r)
        records.extend(r["Records"])
        iterator = r.get("NextShardIterator")
        if not r["Records"] and r["MillisBehindLatest"] == 0 and len(records) >= expect_at_least:
            return records, responses
        if iterator is None:  # closed shard
            return records, responses
    raise AssertionError(f"shard not drained after {max_calls} GetRecords calls")


def seq_offset(seq):
    """The offset encoded in a sequence number (storage/include/storage/sequence_number.h)."""
    return (int(seq) - 10**39) & (2**64 - 1)


class ServerTestCase(unittest.TestCase):
    """One server for the whole class; every test checks it is still alive afterwards."""

    server = None
    extra_args = []
    # YAML for `serve --config`, written into the server's folder; None: no configuration file.
    config_text = None

    @classmethod
    def setUpClass(cls):
        cls.server = TidelineServer(cls.extra_args, name=cls.__name__)
        if cls.config_text is not None:
            path = os.path.join(cls.server.workdir, "tideline.yaml")
            with open(path, "w") as f:
                f.write(cls.config_text)
            cls.server.extra_args += ["--config", path]
        cls.server.start()
        cls.client = cls.server.boto3_client()

    @classmethod
    def tearDownClass(cls):
        stop_and_clean(cls.server)

    def tearDown(self):
        self.assertTrue(self.server.alive(), "the server died\n" + self.server.log_tail())
        self.assertEqual(self.server.health_status(), 200)

    def assert_seqs_increase(self, records):
        seqs = [r["SequenceNumber"] for r in records]
        for a, b in zip(seqs, seqs[1:]):
            self.assertLess(int(a), int(b), "sequence numbers must strictly increase")
            self.assertLess(a, b, "string order must equal numeric order")
        offsets = [seq_offset(s) for s in seqs]
        self.assertEqual(offsets, list(range(offsets[0], offsets[0] + len(offsets))) if offsets
                         else [], "offsets must be dense")


class _CountingResult(unittest.TextTestResult):
    """Counts passing tests (testsRun does not see a failing setUpClass)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.passed = 0

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1


def main(argv=None):
    """Entry point of every test script: `x.py --tideline PATH [unittest args]`."""
    global TIDELINE_BINARY
    parser = argparse.ArgumentParser()
    parser.add_argument("--tideline", required=True, help="path of the tideline binary")
    args, rest = parser.parse_known_args(argv)
    if not (os.path.isfile(args.tideline) and os.access(args.tideline, os.X_OK)):
        raise SystemExit(f"FATAL: --tideline {args.tideline} is not an executable file")
    if shutil.which("aws") is None:
        raise SystemExit("FATAL: the AWS CLI `aws` is not on PATH (required, never skipped)")
    TIDELINE_BINARY = os.path.abspath(args.tideline)
    main_module = sys.modules["__main__"]
    if rest:
        suite = unittest.defaultTestLoader.loadTestsFromNames(rest, main_module)
    else:
        suite = unittest.defaultTestLoader.loadTestsFromModule(main_module)
    runner = unittest.TextTestRunner(verbosity=2, resultclass=_CountingResult, stream=sys.stdout)
    result = runner.run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.passed
    line = f"{passed} passed, {failed} failed"
    if skipped:
        line += f", {skipped} skipped"
    print(line, flush=True)
    # A skip is treated as failure: nothing in this suite is allowed to skip silently.
    sys.exit(0 if failed == 0 and skipped == 0 and passed > 0 else 1)
