"""The sidecar's AWS client (portico.adapters.aws_json): the stores work through it against the local AWS endpoint,
its SigV4 matches botocore's, its credentials come from the standard chain, and errors and retries are boto3's.

Stand-ins: the retry cases use a small local HTTP server that answers like DynamoDB (throttling, then success),
because the local AWS endpoint cannot be made to throttle; the ECS container-credentials case serves the JSON
document the ECS agent serves, because there is no ECS agent here.
"""

from __future__ import annotations

import contextlib
import datetime
import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError, ClientError

from portico.adapters.aws_json import AwsJsonClient, client
from portico.adapters.aws_sigv4 import sign
from portico.adapters.dynamodb.config_store import DynamoDbConfigStore
from portico.adapters.dynamodb.registry_store import DynamoDbRegistryStore
from portico.core.mesh.registry import Instance
from portico.core.ports import StoredDocument

REPO = Path(__file__).resolve().parents[2]


def _inst(iid: str) -> Instance:
    return Instance("payments", iid, "10.0.0.7", 15443, {"version": "v1"}, 2, "HEALTHY", 1000.0, "eu-west-1a")


def test_registry_store_round_trip_through_the_json_client(tables: dict[str, str], dynamodb: Any) -> None:
    store = DynamoDbRegistryStore(tables["registry"], client=client("dynamodb", timeout=2.0, retries=2))
    store.register(_inst("a"), ttl=60)
    store.heartbeat(_inst("b"), ttl=60)
    assert store.instances("payments") == [_inst("a"), _inst("b")]
    # what boto3 reads back is the same item: the JSON client speaks the wire format boto3 does
    item = dynamodb.get_item(TableName=tables["registry"], Key={"service": {"S": "payments"}, "instanceId": {"S": "a"}})
    assert item["Item"]["expiresAt"]["N"] == "1060"
    store.deregister("payments", "a")
    assert [i.instance_id for i in store.all_instances()] == ["b"]


def test_config_snapshot_is_the_same_through_either_client(tables: dict[str, str]) -> None:
    vs = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "payments"},
        "spec": {"hosts": ["payments"], "http": [{"route": [{"destination": {"host": "payments"}}]}]},
    }
    boto = DynamoDbConfigStore(tables["config"])
    boto.apply([StoredDocument("VirtualService", "payments", vs)])
    light = DynamoDbConfigStore(tables["config"], client=client("dynamodb"))
    assert light.version() == boto.version() == 1
    assert light.snapshot() == boto.snapshot()


def test_aws_errors_are_botocore_client_errors_with_their_code(local_aws: str) -> None:
    ddb = client("dynamodb", retries=1)
    with pytest.raises(ClientError) as caught:
        ddb.get_item(TableName="no-such-table", Key={"kind": {"S": "x"}, "name": {"S": "y"}})
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_an_unreachable_endpoint_is_a_botocore_error_after_the_retries(local_aws: str) -> None:
    with socket_closed_port() as port:
        slept: list[float] = []
        ddb = AwsJsonClient("dynamodb", endpoint=f"http://127.0.0.1:{port}", retries=3, sleep=slept.append)
        with pytest.raises(BotoCoreError):
            ddb.list_tables()
    assert len(slept) == 2 and all(0 <= s <= 2.0 for s in slept)  # three attempts, jittered backoff between


class _Throttling(http.server.BaseHTTPRequestHandler):
    """Answers like DynamoDB: ThrottlingException for the first `throttle` requests, then an empty Query page."""

    seen: list[dict[str, str]] = []
    throttle = 1

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        type(self).seen.append(dict(self.headers))
        if len(type(self).seen) <= type(self).throttle:
            body = b'{"__type":"com.amazon.coral.availability#ThrottlingException","message":"Rate exceeded"}'
            self.send_response(400)
        else:
            body = b'{"Count":0,"Items":[],"ScannedCount":0}'
            self.send_response(200)
        self.send_header("content-type", "application/x-amz-json-1.0")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def _serving(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextlib.contextmanager
def socket_closed_port() -> Iterator[int]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]  # bound, never listening: connections are refused


def test_throttling_is_retried_and_the_request_is_signed(local_aws: str) -> None:
    _Throttling.seen, _Throttling.throttle = [], 1
    with _serving(_Throttling) as port:
        slept: list[float] = []
        ddb = AwsJsonClient("dynamodb", endpoint=f"http://127.0.0.1:{port}", retries=2, sleep=slept.append)
        assert ddb.query(TableName="t", KeyConditionExpression="k = :k")["Items"] == []
    first, second = _Throttling.seen
    assert len(slept) == 1
    for headers in (first, second):
        assert headers["X-Amz-Target"] == "DynamoDB_20120810.Query"
        assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=test/")
        assert "/us-east-1/dynamodb/aws4_request" in headers["Authorization"]


def test_a_validation_error_is_not_retried(local_aws: str) -> None:
    _Throttling.seen, _Throttling.throttle = [], 5
    with _serving(_Throttling) as port:
        ddb = AwsJsonClient("dynamodb", endpoint=f"http://127.0.0.1:{port}", retries=1, sleep=lambda s: None)
        with pytest.raises(ClientError) as caught:
            ddb.query(TableName="t")
    assert caught.value.response["Error"]["Code"] == "ThrottlingException" and len(_Throttling.seen) == 1


def test_awscrt_signature_equals_botocores(local_aws: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two independent SigV4 implementations, one request, one instant: the same Authorization header."""
    when = datetime.datetime(2026, 12, 4, 18, 0, 0, tzinfo=datetime.UTC)
    body = json.dumps({"TableName": "portico-registry", "Key": {"service": {"S": "a"}}}).encode()
    headers = {
        "Host": "dynamodb.eu-west-1.amazonaws.com",
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "DynamoDB_20120810.GetItem",
    }
    from awscrt.auth import AwsCredentialsProvider

    creds = AwsCredentialsProvider.new_static("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    ours = dict(sign("POST", "/", headers, body, region="eu-west-1", service="dynamodb", credentials=creds, date=when))

    theirs = AWSRequest("POST", "https://dynamodb.eu-west-1.amazonaws.com/", data=body, headers=dict(headers))
    signer = SigV4Auth(Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), "dynamodb", "eu-west-1")
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda *a, **k: when.replace(tzinfo=None))
    signer.add_auth(theirs)
    assert ours["X-Amz-Date"] == theirs.headers["X-Amz-Date"] == "20261204T180000Z"
    assert ours["Authorization"] == theirs.headers["Authorization"]


_SIGN = (
    "from portico.adapters.aws_sigv4 import sign;"
    "h = dict(sign('POST', '/', {'Host': 'h'}, b'{}', region='us-east-1', service='dynamodb'));"
    "print(h['Authorization'].split('Credential=')[1].split('/')[0], h.get('X-Amz-Security-Token', '-'))"
)


def _chain(env: dict[str, str]) -> tuple[str, str]:
    """Sign in a fresh process whose only credential source is `env`: (access key used, session token or -)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    clean.update(PYTHONPATH=str(REPO / "shared"), AWS_EC2_METADATA_DISABLED="true", **env)
    out = subprocess.run([sys.executable, "-c", _SIGN], env=clean, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    key, token = out.stdout.split()
    return key, token


def test_credentials_come_from_the_environment() -> None:
    env = {"AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "tok"}
    assert _chain(env) == ("AKIAENV", "tok")


def test_credentials_come_from_the_named_profile(tmp_path: Path) -> None:
    creds = tmp_path / "credentials"
    creds.write_text("[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = s\n\n")
    creds.write_text(creds.read_text() + "[mesh]\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = s\n")
    env = {"AWS_SHARED_CREDENTIALS_FILE": str(creds), "AWS_CONFIG_FILE": str(tmp_path / "none")}
    assert _chain({**env, "AWS_PROFILE": "mesh"}) == ("AKIAPROFILE", "-")
    assert _chain(env) == ("AKIADEFAULT", "-")


class _TaskRole(http.server.BaseHTTPRequestHandler):
    """The ECS agent's credentials endpoint: the task role's temporary credentials, for the right token only."""

    def do_GET(self) -> None:
        if self.path != "/v2/credentials/task" or self.headers.get("Authorization") != "ecs-token":
            self.send_response(403)
            self.end_headers()
            return
        expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
        body = json.dumps(
            {
                "AccessKeyId": "ASIATASKROLE",
                "SecretAccessKey": "s",
                "Token": "task-session",
                "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "RoleArn": "arn:aws:iam::123456789012:role/payments-task",
            }
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_credentials_come_from_the_ecs_task_role(tmp_path: Path) -> None:
    with _serving(_TaskRole) as port:
        env = {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"http://127.0.0.1:{port}/v2/credentials/task",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": "ecs-token",
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
            "AWS_CONFIG_FILE": str(tmp_path / "none"),
        }
        assert _chain(env) == ("ASIATASKROLE", "task-session")
