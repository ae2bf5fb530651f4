"""Acceptance 1: the handler takes sam-generated events unchanged (HTTP API v2, REST v1, ALB) and answers in kind."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portico.edge.runtime import Edge

EVENTS = Path(__file__).resolve().parents[2] / "fixtures" / "events"

CONFIG = """
apiVersion: portico/v1
kind: Route
metadata: {name: resource}
spec:
  match: {path: /path/to/resource}
  auth: {none: {}}
  upstream: {mock: {status: 201, headers: {set-cookie: "a=1"}, json: {ok: true}}}
"""


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[Edge]:
    config = tmp_path / "edge.yaml"
    config.write_text(CONFIG)
    built = Edge.from_env({"PORTICO_CONFIG_FILE": str(config)})
    yield built
    built.close()


def load(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())  # type: ignore[no-any-return]


def test_http_api_v2_event(edge: Edge) -> None:
    result = edge.handle(load("http-api-proxy.json"))
    assert result["statusCode"] == 201 and json.loads(result["body"]) == {"ok": True}
    assert result["cookies"] == ["a=1"] and "set-cookie" not in result["headers"]
    assert result["headers"]["x-request-id"] == "id"  # API Gateway's requestContext.requestId is kept


def test_rest_api_v1_event(edge: Edge) -> None:
    result = edge.handle(load("aws-proxy.json"))
    assert result["statusCode"] == 201 and json.loads(result["body"]) == {"ok": True}
    assert result["multiValueHeaders"]["set-cookie"] == ["a=1"]


def test_alb_event(edge: Edge) -> None:
    result = edge.handle(load("alb-request.json"))
    assert result["statusCode"] == 201 and result["statusDescription"] == "201 Created"
    assert json.loads(result["body"]) == {"ok": True}


def test_binary_body_is_base64(tmp_path: Path) -> None:
    config = tmp_path / "edge.yaml"
    config.write_text(CONFIG.replace("json: {ok: true}", 'body: "\\xff\\x00", headers: {content-type: image/png}'))
    edge = Edge.from_env({"PORTICO_CONFIG_FILE": str(config)})
    result = edge.handle(load("http-api-proxy.json"))
    edge.close()
    assert result["isBase64Encoded"] is True and base64.b64decode(result["body"]) == "\xff\x00".encode()


def test_malformed_event_is_a_clear_400(edge: Edge) -> None:
    result = edge.handle({"version": "2.0", "requestContext": {}})
    assert result["statusCode"] == 400 and "'http' is missing" in json.loads(result["body"])["detail"]


def test_bad_settings_fail_fast() -> None:
    from portico.edge.settings import SettingsError

    with pytest.raises(SettingsError, match="PORTICO_MAX_HEADERS"):
        Edge.from_env({"PORTICO_MAX_HEADERS": "many", "PORTICO_CONFIG_FILE": "/nonexistent"})


def test_underscore_header_names_follow_the_setting(tmp_path: Path) -> None:
    """Issue 20 defect 5 at the Lambda entry point: reject answers 400 naming the field; drop (the default) serves."""
    config = tmp_path / "edge.yaml"
    config.write_text(CONFIG)
    event = load("http-api-proxy.json")
    event["headers"] = {**event.get("headers", {}), "X_Portico_Sub": "admin"}
    strict = Edge.from_env({"PORTICO_CONFIG_FILE": str(config), "PORTICO_HEADERS_WITH_UNDERSCORES": "reject"})
    result = strict.handle(event)
    strict.close()
    assert result["statusCode"] == 400 and "x_portico_sub" in json.loads(result["body"])["detail"]
    lenient = Edge.from_env({"PORTICO_CONFIG_FILE": str(config)})
    assert lenient.handle(event)["statusCode"] == 201
    lenient.close()
    from portico.edge.settings import SettingsError

    with pytest.raises(SettingsError, match="PORTICO_HEADERS_WITH_UNDERSCORES"):
        Edge.from_env({"PORTICO_HEADERS_WITH_UNDERSCORES": "maybe", "PORTICO_CONFIG_FILE": "/nonexistent"})
