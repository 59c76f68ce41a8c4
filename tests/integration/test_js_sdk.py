#!/usr/bin/env python3
"""The AWS SDK for JavaScript v3 (tests/js/kinesis_sdk_test.cjs, run by Node.js with the SDK
that scripts/setup installed into BUILD_DIR/js) against `tideline serve`, with the SDK's default
HTTP/2 handler: over h2c (prior knowledge) on a plain port, and over h2 negotiated by ALPN on a
TLS port. The server ends each SubscribeToShard subscription after 3 s
(server.subscription_duration_ms), so the SDK test reads a shard across a renewal.

Fails, never skips, without node (20 or later) or the SDK's modules.
Run: TIDELINE_JS_MODULES=build/js/node_modules python3 test_js_sdk.py --tideline build/cli/tideline"""

import os
import shutil
import socket
import subprocess
import tempfile
import unittest

import harness
import test_tls

HERE = os.path.dirname(os.path.abspath(__file__))
SDK_TEST = os.path.join(HERE, "..", "js", "kinesis_sdk_test.cjs")
SUBSCRIPTION_MS = 3000
NODE_TIMEOUT_S = 240
CONFIG = f"server:\n  subscription_duration_ms: {SUBSCRIPTION_MS}\n"


def node_executable():
    node = shutil.which("node")
    if node is None:
        raise AssertionError("FATAL: `node` is not on PATH (run scripts/setup; never skipped)")
    version = subprocess.run([node, "-p", "process.versions.node"], capture_output=True,
                             text=True, timeout=30).stdout.strip()
    if int(version.split(".")[0] or 0) < 20:
        raise AssertionError(f"FATAL: the AWS SDK for JavaScript needs Node.js 20+, found {version}")
    return node


def modules_dir():
    """BUILD_DIR/js/node_modules, as CMake passes it; it must hold the pinned SDK."""
    path = os.environ.get("TIDELINE_JS_MODULES")
    if not path:
        raise AssertionError("FATAL: TIDELINE_JS_MODULES is not set (ctest sets it to "
                             "BUILD_DIR/js/node_modules)")
    if not os.path.isfile(os.path.join(path, "@aws-sdk", "client-kinesis", "package.json")):
        build_dir = os.path.dirname(os.path.dirname(os.path.abspath(path)))
        raise AssertionError(f"FATAL: the AWS SDK for JavaScript is not installed in {path}: "
                             f"run scripts/setup {build_dir}")
    return os.path.abspath(path)


def run_sdk_test(testcase, endpoint, ca_file=None):
    """Runs the SDK test against `endpoint` and fails with its output unless every test passed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NODE_"))}
    env.update(TIDELINE_ENDPOINT=endpoint, NODE_PATH=modules_dir(),
               TIDELINE_SUBSCRIPTION_MS=str(SUBSCRIPTION_MS),
               TIDELINE_TEST_TIME_FACTOR=str(harness.TIME_FACTOR),
               # No profile, region or retry settings of the machine's user reach the client.
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    if ca_file is not None:
        env["NODE_EXTRA_CA_CERTS"] = ca_file
    p = subprocess.run([node_executable(), "--test-reporter=spec", SDK_TEST], env=env,
                       capture_output=True, text=True, timeout=harness.scaled(NODE_TIMEOUT_S))
    output = p.stdout + p.stderr
    if p.returncode != 0:
        testcase.fail(f"the SDK test failed (exit {p.returncode}) against {endpoint}:\n{output}\n"
                      f"{testcase.server.log_tail()}")
    # node:test's summary: every test ran and passed.
    testcase.assertRegex(output, r"(?m)^. pass [1-9]\d*$")
    testcase.assertRegex(output, r"(?m)^. fail 0$")
    print("\n".join(output.strip().splitlines()[-10:]))


class JsSdkH2cTest(harness.ServerTestCase):
    """HTTP/2 with prior knowledge on the plain port."""

    config_text = CONFIG

    def test_sdk_over_h2c(self):
        run_sdk_test(self, self.server.endpoint)


class JsSdkTlsTest(unittest.TestCase):
    """HTTP/2 negotiated by ALPN on the TLS port, the certificate verified against a test CA."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="tideline-js-tls-")
        cls.pki = test_tls.Pki(os.path.join(cls.tmp, "pki"))
        crt, key = cls.pki.issue("server", "tideline-js", 7)
        config = os.path.join(cls.tmp, "tideline.yaml")
        with open(config, "w") as f:
            f.write(CONFIG + f"  tls:\n    cert_file: {crt}\n    key_file: {key}\n")
        cls.server = test_tls.TlsServer(cls.pki.ca_file, extra_args=["--config", config],
                                        name="js-tls")
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        harness.stop_and_clean(cls.server, lambda: shutil.rmtree(cls.tmp, ignore_errors=True))

    def tearDown(self):
        self.assertTrue(self.server.alive(), "the server died\n" + self.server.log_tail())

    def test_alpn_selects_h2(self):
        context = self.server.ssl_context()
        context.set_alpn_protocols(["h2", "http/1.1"])
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                self.assertEqual(tls.selected_alpn_protocol(), "h2")

    def test_sdk_over_h2_with_alpn(self):
        run_sdk_test(self, self.server.endpoint, ca_file=self.pki.ca_file)


if __name__ == "__main__":
    harness.main()
