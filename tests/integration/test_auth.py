#!/usr/bin/env python3
"""SigV4 authentication and per-key permissions against a real server with auth on.

boto3, the AWS CLI and the `tideline` CLI sign as they do against AWS; hand-signed requests
(botocore's signer) cover the failures: wrong secret, unknown key, skewed clock, tampered body,
missing signature, and a presigned request.
"""
import datetime
import http.client
import json
import os
import subprocess
import sys
import unittest
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import ServerTestCase, b64, wait_stream_active  # noqa: E402

import boto3  # noqa: E402
import botocore.auth  # noqa: E402
import botocore.config  # noqa: E402
import botocore.exceptions  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

PRODUCER = ("AKIDPRODUCER", "producer-secret-0123456789")
ADMIN = ("AKIDADMIN", "admin-secret-9876543210")


def write_config(workdir):
    secrets = {}
    for key_id, secret in (PRODUCER, ADMIN):
        path = os.path.join(workdir, key_id + ".secret")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, (secret + "\n").encode())
        os.close(fd)
        secrets[key_id] = path
    config = os.path.join(workdir, "auth.yaml")
    with open(config, "w") as f:
        f.write(f"""auth:
  mode: sigv4
  credentials:
    - access_key_id: {PRODUCER[0]}
      secret_access_key_file: {secrets[PRODUCER[0]]}
      allow: ["kinesis:PutRecord", "kinesis:PutRecords", "kinesis:Describe*", "kinesis:List*"]
      streams: ["web-*"]
    - access_key_id: {ADMIN[0]}
      secret_access_key_file: {secrets[ADMIN[0]]}
      allow: ["kinesis:*", "tideline:*"]
      streams: ["*"]
""")
    return config


class AuthTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.TidelineServer(name=cls.__name__)
        cls.server.extra_args = ["--config", write_config(cls.server.workdir)]
        cls.server.start()
        cls.admin = cls.client_for(*ADMIN)
        cls.producer = cls.client_for(*PRODUCER)
        for name in ("web-1", "orders"):
            cls.admin.create_stream(StreamName=name, ShardCount=1)
            wait_stream_active(cls.admin, name)

    @classmethod
    def client_for(cls, key_id, secret, region=harness.REGION):
        cfg = botocore.config.Config(retries={"max_attempts": 1})
        return boto3.client("kinesis", endpoint_url=cls.server.endpoint, region_name=region,
                            aws_access_key_id=key_id, aws_secret_access_key=secret, config=cfg)

    def assert_error(self, call, error_type, message_start=""):
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            call()
        err = ctx.exception.response["Error"]
        self.assertEqual(err["Code"], error_type, err)
        self.assertTrue(err["Message"].startswith(message_start), err["Message"])
        self.assertEqual(ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)

    # -- raw requests signed by botocore -----------------------------------------------------

    def send(self, method, path, body=b"", headers=None, creds=ADMIN, at=None, tamper=None):
        """Signs (unless creds is None) and sends; returns (status, JSON or text)."""
        url = self.server.endpoint + path
        req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
        if creds is not None:
            signer = botocore.auth.SigV4Auth(Credentials(*creds), "kinesis", harness.REGION)
            if at is None:
                signer.add_auth(req)
            else:
                with mock.patch("botocore.auth.get_current_datetime", return_value=at):
                    signer.add_auth(req)
        if tamper is not None:
            body = tamper
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=dict(req.headers))
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        try:
            return resp.status, json.loads(data)
        except ValueError:
            return resp.status, data.decode()

    def kinesis(self, operation, payload, **kw):
        return self.send("POST", "/", json.dumps(payload).encode(),
                         {"X-Amz-Target": harness.TARGET_PREFIX + operation,
                          "Content-Type": harness.CONTENT_TYPE}, **kw)

    # -- tests ---------------------------------------------------------------------------------

    def test_right_key_works_and_health_stays_open(self):
        put = self.producer.put_record(StreamName="web-1", Data=b"hello", PartitionKey="k")
        self.assertIn("SequenceNumber", put)
        self.assertEqual(self.server.health_status(), 200)
        self.assertEqual(self.send("GET", "/metrics", creds=None)[0], 200)

    def test_wrong_secret_is_invalid_signature(self):
        bad = self.client_for(PRODUCER[0], "not-the-secret")
        self.assert_error(lambda: bad.describe_stream_summary(StreamName="web-1"),
                          "InvalidSignatureException",
                          "The request signature we calculated does not match the signature "
                          "you provided.")

    def test_unknown_key_is_unrecognized_client(self):
        bad = self.client_for("AKIDNOBODY", "whatever")
        self.assert_error(lambda: bad.list_streams(), "UnrecognizedClientException",
                          "The security token included in the request is invalid.")

    def test_skewed_clock_is_refused(self):
        past = datetime.datetime.utcnow() - datetime.timedelta(minutes=10)
        status, body = self.kinesis("ListStreams", {}, at=past)
        self.assertEqual(status, 400)
        self.assertEqual(body["__type"], "InvalidSignatureException")
        self.assertTrue(body["message"].startswith("Signature expired: "), body)
        future = datetime.datetime.utcnow() + datetime.timedelta(minutes=10)
        status, body = self.kinesis("ListStreams", {}, at=future)
        self.assertEqual(body["__type"], "InvalidSignatureException")
        self.assertTrue(body["message"].startswith("Signature not yet current: "), body)

    def test_tampered_body_is_invalid_signature(self):
        payload = {"StreamName": "web-1", "Data": b64(b"x"), "PartitionKey": "k"}
        tampered = json.dumps(dict(payload, Data=b64(b"y"))).encode()
        status, body = self.kinesis("PutRecord", payload, creds=PRODUCER, tamper=tampered)
        self.assertEqual((status, body["__type"]), (400, "InvalidSignatureException"), body)

    def test_missing_signature_is_missing_authentication_token(self):
        status, body = self.kinesis("ListStreams", {}, creds=None)
        self.assertEqual(status, 400)
        self.assertEqual(body, {"__type": "MissingAuthenticationTokenException",
                                "message": "Missing Authentication Token"})
        status, body = self.send("GET", "/pipelines", creds=None)
        self.assertEqual(body["__type"], "MissingAuthenticationTokenException")

    def test_producer_permission_matrix(self):
        p = self.producer
        p.put_records(StreamName="web-1", Records=[{"Data": b"a", "PartitionKey": "k"}])
        self.assertEqual(p.describe_stream_summary(StreamName="web-1")
                         ["StreamDescriptionSummary"]["StreamName"], "web-1")
        p.list_shards(StreamName="web-1")
        arn = "arn:aws:kinesis:us-east-1:123456789012:stream/orders"
        self.assert_error(lambda: p.put_record(StreamName="orders", Data=b"x", PartitionKey="k"),
                          "AccessDeniedException",
                          "User: arn:aws:iam::123456789012:user/AKIDPRODUCER is not authorized "
                          f"to perform: kinesis:PutRecord on resource: {arn} because no "
                          "identity-based policy allows the kinesis:PutRecord action")
        self.assert_error(lambda: p.describe_stream_summary(StreamName="orders"),
                          "AccessDeniedException")
        self.assert_error(lambda: p.delete_stream(StreamName="web-1"), "AccessDeniedException")
        self.assert_error(lambda: p.create_stream(StreamName="web-2", ShardCount=1),
                          "AccessDeniedException")
        it = self.admin.get_shard_iterator(StreamName="web-1", ShardId="shardId-000000000000",
                                           ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        self.assert_error(lambda: p.get_records(ShardIterator=it), "AccessDeniedException")
        self.assertGreaterEqual(len(self.admin.get_records(ShardIterator=it)["Records"]), 1)
        # Pipelines: the producer may neither read nor reset them; the admin may.
        status, body = self.send("POST", "/pipelines/web/reset", b"{}", creds=PRODUCER)
        self.assertEqual((status, body["__type"]), (400, "AccessDeniedException"), body)
        self.assertIn("tideline:ResetPipeline", body["message"])
        status, body = self.send("GET", "/pipelines", creds=PRODUCER)
        self.assertEqual(body["__type"], "AccessDeniedException")
        status, body = self.send("POST", "/pipelines/web/reset", b"{}", creds=ADMIN)
        self.assertEqual(body["__type"], "ResourceNotFoundException", body)  # past auth
        self.assertEqual(self.send("GET", "/pipelines", creds=ADMIN)[0], 200)

    def test_presigned_request(self):
        def presigned(creds, expires=60):
            req = AWSRequest(method="GET", url=self.server.endpoint + "/pipelines")
            botocore.auth.SigV4QueryAuth(Credentials(*creds), "kinesis", harness.REGION,
                                         expires=expires).add_auth(req)
            return req.url[len(self.server.endpoint):]
        status, body = self.send("GET", presigned(ADMIN), creds=None)
        self.assertEqual(status, 200, body)
        self.assertIn("pipelines", body)
        status, body = self.send("GET", presigned(PRODUCER), creds=None)
        self.assertEqual(body["__type"], "AccessDeniedException")
        path = presigned(ADMIN).replace("X-Amz-Expires=60", "X-Amz-Expires=61")
        status, body = self.send("GET", path, creds=None)
        self.assertEqual(body["__type"], "InvalidSignatureException")

    def test_aws_cli_signs_and_gets_aws_errors(self):
        env = harness.aws_cli_env(self.server.workdir)
        env.update(AWS_ACCESS_KEY_ID=ADMIN[0], AWS_SECRET_ACCESS_KEY=ADMIN[1])
        cmd = ["aws", "kinesis", "list-streams", "--endpoint-url", self.server.endpoint,
               "--output", "json"]
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("web-1", json.loads(p.stdout)["StreamNames"])
        env.update(AWS_ACCESS_KEY_ID=PRODUCER[0], AWS_SECRET_ACCESS_KEY=PRODUCER[1])
        cmd = ["aws", "kinesis", "delete-stream", "--stream-name", "web-1", "--endpoint-url",
               self.server.endpoint]
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("AccessDeniedException", p.stderr)

    def test_tideline_cli_signs_with_a_profile(self):
        creds = os.path.join(self.server.workdir, "cli-credentials")
        with open(creds, "w") as f:
            f.write(f"[default]\naws_access_key_id = AKIDNOBODY\naws_secret_access_key = x\n"
                    f"[producer]\naws_access_key_id = {PRODUCER[0]}\n"
                    f"aws_secret_access_key = {PRODUCER[1]}\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_SHARED_CREDENTIALS_FILE=creds, AWS_PROFILE="producer",
                   AWS_CONFIG_FILE=os.path.join(self.server.workdir, "no-such-config"),
                   HOME=self.server.workdir)

        def tideline(*args, stdin=None):
            return subprocess.run([harness.TIDELINE_BINARY] + list(args) +
                                  ["--endpoint", self.server.endpoint], env=env, input=stdin,
                                  capture_output=True, text=True, timeout=60)

        p = tideline("stream", "describe", "web-1")
        self.assertEqual(p.returncode, 0, p.stderr)
        p = tideline("put", "web-1", stdin="one\ntwo\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        p = tideline("stream", "delete", "web-1")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("AccessDeniedException: User: arn:aws:iam::123456789012:user/AKIDPRODUCER",
                      p.stderr)
        p = tideline("pipeline", "status")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("AccessDeniedException", p.stderr)
        env["AWS_PROFILE"] = "default"
        p = tideline("stream", "describe", "web-1")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("UnrecognizedClientException", p.stderr)
        # No credentials at all: unsigned, and refused.
        env["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(self.server.workdir, "none")
        p = tideline("stream", "describe", "web-1")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("MissingAuthenticationTokenException", p.stderr)


if __name__ == "__main__":
    harness.main()
