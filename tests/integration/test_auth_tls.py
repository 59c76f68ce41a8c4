#!/usr/bin/env python3
"""SigV4 authentication and TLS together, as a team exposes tideline on a network: a throwaway
CA made with openssl, `server.tls` and `auth: sigv4` with the producer and admin keys of
test_auth.py. boto3, the AWS CLI (--ca-bundle) and the `tideline` CLI (--ca-bundle, a profile)
work over https with the right key; a wrong secret, an unknown key and a key without the
permission get AWS's errors over https too; a certificate reload keeps signed clients working.

Run: python3 test_auth_tls.py --tideline build/cli/tideline
"""

import os
import shutil
import signal
import subprocess
import tempfile
import unittest

import boto3
import botocore.config
import botocore.exceptions

import harness
from test_auth import ADMIN, PRODUCER, write_config
from test_tls import Pki, TlsServer, install, peer_serial, wait_until


class AuthOverTlsTest(unittest.TestCase):
    server = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="tideline-auth-tls-")
        cls.pki = Pki(os.path.join(cls.tmp, "pki"))
        crt, key = cls.pki.issue("first", "tideline-first", 3001)
        cls.cert_file = os.path.join(cls.tmp, "tls.crt")
        cls.key_file = os.path.join(cls.tmp, "tls.key")
        install(crt, cls.cert_file)
        install(key, cls.key_file)
        auth_config = write_config(cls.tmp)
        config = os.path.join(cls.tmp, "tideline.yaml")
        with open(auth_config) as f, open(config, "w") as g:
            g.write("server:\n  tls:\n"
                    f"    cert_file: {cls.cert_file}\n    key_file: {cls.key_file}\n")
            g.write(f.read())
        cls.server = TlsServer(cls.pki.ca_file, extra_args=["--config", config], name="authtls")
        cls.server.start()
        cls.admin = cls.client_for(*ADMIN)
        cls.producer = cls.client_for(*PRODUCER)
        for name in ("web-1", "orders"):
            cls.admin.create_stream(StreamName=name, ShardCount=1)
            harness.wait_stream_active(cls.admin, name)

    @classmethod
    def tearDownClass(cls):
        harness.stop_and_clean(cls.server, lambda: shutil.rmtree(cls.tmp, ignore_errors=True))

    @classmethod
    def client_for(cls, key_id, secret):
        cfg = botocore.config.Config(retries={"max_attempts": 1})
        return boto3.client("kinesis", endpoint_url=cls.server.endpoint,
                            region_name=harness.REGION, aws_access_key_id=key_id,
                            aws_secret_access_key=secret, config=cfg,
                            verify=cls.server.ca_file)

    def assert_error(self, call, error_type):
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            call()
        self.assertEqual(ctx.exception.response["Error"]["Code"], error_type)

    def tearDown(self):
        self.assertTrue(self.server.alive(), "the server died\n" + self.server.log_tail())
        self.assertEqual(self.server.health_status(), 200)  # /health stays open

    def test_right_keys_work_and_refusals_are_aws_errors(self):
        seq = self.producer.put_record(StreamName="web-1", Data=b"hello",
                                       PartitionKey="k")["SequenceNumber"]
        it = self.admin.get_shard_iterator(StreamName="web-1", ShardId="shardId-000000000000",
                                           ShardIteratorType="AT_SEQUENCE_NUMBER",
                                           StartingSequenceNumber=seq)["ShardIterator"]
        self.assertEqual(self.admin.get_records(ShardIterator=it)["Records"][0]["Data"],
                         b"hello")
        self.assert_error(lambda: self.producer.put_record(StreamName="orders", Data=b"x",
                                                           PartitionKey="k"),
                          "AccessDeniedException")
        self.assert_error(lambda: self.producer.delete_stream(StreamName="web-1"),
                          "AccessDeniedException")
        self.assert_error(lambda: self.client_for(PRODUCER[0], "wrong").list_shards(
            StreamName="web-1"), "InvalidSignatureException")
        self.assert_error(lambda: self.client_for("AKIDNOBODY", "x").list_shards(
            StreamName="web-1"), "UnrecognizedClientException")

    def test_aws_cli_and_tideline_cli_over_https(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        creds = os.path.join(self.tmp, "credentials")
        with open(creds, "w") as f:
            f.write(f"[producer]\naws_access_key_id = {PRODUCER[0]}\n"
                    f"aws_secret_access_key = {PRODUCER[1]}\n")
        env.update(AWS_SHARED_CREDENTIALS_FILE=creds, AWS_PROFILE="producer",
                   AWS_CONFIG_FILE=os.path.join(self.tmp, "no-config"), HOME=self.tmp,
                   AWS_DEFAULT_REGION=harness.REGION, AWS_PAGER="")
        aws = shutil.which("aws")
        p = subprocess.run([aws, "kinesis", "describe-stream-summary", "--stream-name", "web-1",
                            "--endpoint-url", self.server.endpoint, "--ca-bundle",
                            self.server.ca_file, "--output", "json"],
                           env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = subprocess.run([aws, "kinesis", "delete-stream", "--stream-name", "web-1",
                            "--endpoint-url", self.server.endpoint, "--ca-bundle",
                            self.server.ca_file], env=env, capture_output=True, text=True,
                           timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("AccessDeniedException", p.stderr)

        def tideline(*args, stdin=None, ca=True):
            extra = ["--endpoint", self.server.endpoint]
            if ca:
                extra += ["--ca-bundle", self.server.ca_file]
            return subprocess.run([harness.TIDELINE_BINARY] + list(args) + extra, env=env,
                                  input=stdin, capture_output=True, text=True, timeout=60)

        p = tideline("put", "web-1", stdin="one\ntwo\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        p = tideline("stream", "delete", "web-1")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("AccessDeniedException", p.stderr)
        # Without the CA the certificate is not trusted: refused before anything is sent.
        p = tideline("stream", "describe", "web-1", ca=False)
        self.assertNotEqual(p.returncode, 0)

    def test_signed_clients_keep_working_across_a_certificate_reload(self):
        crt, key = self.pki.issue("second", "tideline-second", 3002)
        install(crt, self.cert_file)
        install(key, self.key_file)
        os.kill(self.server.proc.pid, signal.SIGHUP)
        wait_until(lambda: peer_serial(self.server) == 3002, "the new certificate",
                   deadline_s=harness.scaled(30))
        self.producer.put_record(StreamName="web-1", Data=b"after reload", PartitionKey="k")
        self.client_for(*PRODUCER).put_record(StreamName="web-1", Data=b"new client",
                                              PartitionKey="k")


if __name__ == "__main__":
    harness.main()
