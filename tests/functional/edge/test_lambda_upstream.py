"""The lambda upstream against the local AWS endpoint (moto): create a function, invoke it through the adapter.

moto cannot execute function code here (no Docker), so its invoke returns a fixed payload instead of running
the handler; this covers the boto3 call, qualifier, error and payload mapping, not the function's own logic.
"""

from __future__ import annotations

import asyncio
import io
import json
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest

from portico.adapters.lambda_invoker import BotoLambdaInvoker
from portico.edge.runtime import Edge

ROUTE = """
apiVersion: portico/v1
kind: Route
metadata: {{name: fn}}
spec:
  match: {{path: "/fn/{{n}}"}}
  auth: {{none: {{}}}}
  upstream: {{lambda: {{functionName: {fn}, timeout: 10s}}}}
"""


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", "def handler(event, context):\n    return {'statusCode': 200, 'body': 'hi'}\n")
    return buf.getvalue()


@pytest.fixture
def function(local_aws: str) -> str:
    import urllib.request

    from portico.adapters.aws import client

    # moto's documented switch: without Docker, invoke answers a fixed payload instead of running the code
    req = urllib.request.Request(
        f"{local_aws}/moto-api/config",
        data=json.dumps({"lambda": {"use_docker": False}}).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(req, timeout=5).close()

    name = f"edge-test-{uuid.uuid4().hex[:10]}"  # unique: the endpoint is shared by the whole session
    role = client("iam").create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    client("lambda").create_function(
        FunctionName=name, Runtime="python3.11", Role=role, Handler="app.handler", Code={"ZipFile": _zip()}
    )
    return name


def test_invoke_reaches_the_local_endpoint(function: str) -> None:
    payload: dict[str, Any] = {"version": "2.0", "rawPath": "/x"}
    result = asyncio.run(BotoLambdaInvoker().invoke(function, None, payload, 10))
    assert result == payload  # moto without Docker answers with the payload it was given


def test_lambda_route_sends_an_http_api_v2_event(function: str, tmp_path: Path) -> None:
    config = tmp_path / "edge.yaml"
    config.write_text(ROUTE.format(fn=function))
    edge = Edge.from_env({"PORTICO_CONFIG_FILE": str(config)})
    event = json.loads((Path(__file__).resolve().parents[2] / "fixtures/events/http-api-proxy.json").read_text())
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/fn/7"
    try:
        result = edge.handle(event)
    finally:
        edge.close()
    assert result["statusCode"] == 200
    sent = json.loads(result["body"])  # the function's result is the event it received (moto echoes it)
    assert sent["version"] == "2.0" and sent["rawPath"] == "/fn/7" and sent["pathParameters"] == {"n": "7"}
    assert sent["requestContext"]["requestId"] == "id"
