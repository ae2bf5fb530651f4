"""Acceptance 5 on the local DynamoDB: keys made by the CLI, checked by the edge handler, revoked through apply."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from portico.cli.main import app
from portico.core.headers import Headers
from portico.core.http import Request
from portico.edge.events.outbound import event_for
from portico.edge.runtime import Edge
from tests.auth_support import RecordingTransport

ROUTE = """
apiVersion: portico/v1
kind: Route
metadata: {name: keyed}
spec:
  match: {pathPrefix: /keyed}
  auth: {apiKey: {}}
  upstream: {http: {url: "https://orders.example.com"}}
"""
REFRESH = 0.2


@pytest.fixture
def edge(tables: dict[str, str], tmp_path: Path) -> Iterator[tuple[Edge, RecordingTransport]]:
    routes = tmp_path / "routes.yaml"
    routes.write_text(ROUTE)
    assert CliRunner().invoke(app, ["apply", "-f", str(routes)]).exit_code == 0
    transport = RecordingTransport()
    env = {"PORTICO_CONFIG_TABLE": tables["config"], "PORTICO_CONFIG_REFRESH_SECONDS": str(REFRESH)}
    built = Edge.from_env(env, transport=transport)
    yield built, transport
    built.close()


def _get(edge: Edge, key: str) -> dict[str, Any]:
    request = Request("GET", "/keyed/orders", headers=Headers([("host", "api.test"), ("x-api-key", key)]))
    return edge.handle(event_for(request, "req-1", time.time()))


def _create_key(name: str, key_id: str) -> str:
    result = CliRunner().invoke(app, ["consumers", "create-key", name, "--id", key_id])
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


def test_keys_are_stored_as_hashes_accepted_then_revoked(
    edge: tuple[Edge, RecordingTransport], tables: dict[str, str], dynamodb: Any
) -> None:
    handler, upstream = edge
    key = _create_key("acme", "ci")
    assert key.startswith("ptk_") and len(key) > 40

    items = dynamodb.scan(TableName=tables["config"])["Items"]
    stored = json.dumps(items)
    assert key not in stored and key.removeprefix("ptk_") not in stored
    consumer = next(i for i in items if i.get("kind", {}).get("S") == "Consumer")
    body = json.loads(consumer["body"]["S"])
    assert body["spec"]["apiKeys"] == [{"id": "ci", "sha256": hashlib.sha256(key.encode()).hexdigest()}]

    ok = _get(handler, key)
    assert ok["statusCode"] == 200
    assert upstream.seen[-1].headers.get("x-portico-consumer") == "acme"
    assert "x-api-key" not in upstream.seen[-1].headers

    wrong = _get(handler, key[:-1] + ("A" if key[-1] != "A" else "B"))
    assert wrong["statusCode"] == 401 and 'error="invalid_key"' in wrong["headers"]["www-authenticate"]

    result = CliRunner().invoke(app, ["consumers", "revoke-key", "acme", "ci"])
    assert result.exit_code == 0, result.output
    time.sleep(REFRESH * 1.5)  # within the refresh interval the edge picks up the new config version
    assert _get(handler, key)["statusCode"] == 401
    seen_before = len(upstream.seen)
    assert _get(handler, key)["statusCode"] == 401 and len(upstream.seen) == seen_before


def test_second_key_and_duplicate_ids(tables: dict[str, str]) -> None:
    first, second = _create_key("acme", "a"), _create_key("acme", "b")
    assert first != second
    again = CliRunner().invoke(app, ["consumers", "create-key", "acme", "--id", "a"])
    assert again.exit_code == 1 and "already has a key" in again.output
    missing = CliRunner().invoke(app, ["consumers", "revoke-key", "nobody", "a"])
    assert missing.exit_code == 1


def test_a_pending_portal_consumer_is_listed_approved_and_its_key_then_works(
    edge: tuple[Edge, RecordingTransport], tmp_path: Path
) -> None:
    """`approval: manual`: a signed-up consumer waits; `consumers pending` lists it, `approve` opens it."""
    handler, _ = edge
    key = "ptk_" + "p" * 43
    pending = tmp_path / "pending.yaml"
    pending.write_text(
        f"""
apiVersion: portico/v1
kind: Consumer
metadata: {{name: portal-0123456789abcdef}}
spec:
  status: pending
  subjects: [carol]
  apiKeys: [{{id: k1, sha256: {hashlib.sha256(key.encode()).hexdigest()}}}]
"""
    )
    assert CliRunner().invoke(app, ["apply", "-f", str(pending)]).exit_code == 0
    time.sleep(REFRESH * 2)
    assert _get(handler, key)["statusCode"] == 401  # a pending consumer's keys open nothing

    listed = CliRunner().invoke(app, ["consumers", "pending"])
    assert listed.exit_code == 0 and "portal-0123456789abcdef  plan=-  subjects=carol" in listed.stdout
    approved = CliRunner().invoke(app, ["consumers", "approve", "portal-0123456789abcdef"])
    assert approved.exit_code == 0, approved.output
    time.sleep(REFRESH * 2)
    assert _get(handler, key)["statusCode"] == 200
    assert "no consumers are waiting" in CliRunner().invoke(app, ["consumers", "pending"]).output
    assert CliRunner().invoke(app, ["consumers", "approve", "nobody"]).exit_code != 0
