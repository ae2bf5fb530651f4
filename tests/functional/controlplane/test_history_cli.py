"""Issue 19, acceptance 4: the control plane's audit trail through the `portico` CLI against the local endpoint.

apply, apply a change, delete: `portico history` shows three records with identity, time and version; `portico diff`
shows the change; `portico rollback 1` restores the first state exactly (same content hash) as an ordinary apply
with its own record, and an edge reading the table serves it on its next reload. A hand-corrupted history item is
skipped and logged, and history stays bounded by PORTICO_HISTORY_LIMIT.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from portico.adapters.dynamodb.config_store import DynamoDbConfigStore
from portico.cli.main import app
from portico.core.config.history import content_hash
from portico.edge.runtime import Edge

EVENT = Path(__file__).parents[2] / "fixtures" / "events" / "http-api-proxy.json"

FIRST = """
apiVersion: portico/v1
kind: Route
metadata: {name: hello}
spec:
  match: {path: /hello}
  auth: {none: {}}
  upstream: {mock: {status: 200, json: {hello: first}}}
---
apiVersion: portico/v1
kind: Route
metadata: {name: extra}
spec:
  match: {path: /extra}
  auth: {none: {}}
  upstream: {mock: {status: 200, json: {extra: true}}}
"""


def _event(path: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(EVENT.read_text())
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = "GET"
    event["body"], event["rawQueryString"] = None, ""
    return event


def _ok(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _body(edge: Edge, path: str) -> tuple[int, Any]:
    answer = edge.handle(_event(path))
    return int(answer["statusCode"]), json.loads(answer["body"]) if answer.get("body") else None


def test_apply_change_delete_then_history_diff_and_rollback(tables: dict[str, str], tmp_path: Path) -> None:
    runner = CliRunner()
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text(FIRST)
    second.write_text(FIRST.replace("hello: first", "hello: second"))
    edge = Edge.from_env({"PORTICO_CONFIG_TABLE": tables["config"], "PORTICO_CONFIG_REFRESH_SECONDS": "0"})
    try:
        _ok(runner, "apply", "-f", str(first))
        store = DynamoDbConfigStore(tables["config"])
        first_hash = content_hash(store.snapshot().documents)
        _ok(runner, "apply", "-f", str(second))
        _ok(runner, "delete", "route", "extra")
        assert _body(edge, "/hello") == (200, {"hello": "second"}) and _body(edge, "/extra")[0] == 404

        rows = json.loads(_ok(runner, "history", "-o", "json"))
        assert [(r["version"], r["action"]) for r in rows] == [(3, "delete"), (2, "apply"), (1, "apply")]
        assert all(r["who"].startswith("arn:aws:") for r in rows)  # STS GetCallerIdentity on the local endpoint
        assert all(r["at"].endswith("Z") for r in rows)
        assert rows[2]["hash"] == first_hash
        assert rows[1]["changes"] == [{"action": "update", "kind": "Route", "name": "hello"}]
        table = _ok(runner, "history")
        assert "delete Route/extra" in table and "update Route/hello" in table
        assert [r["version"] for r in json.loads(_ok(runner, "history", "route", "extra", "-o", "json"))] == [3, 1]

        shown = _ok(runner, "diff", "1", "2")
        assert "-        hello: first" in shown and "+        hello: second" in shown and "Route/extra" not in shown
        assert "Route/extra" in _ok(runner, "diff", "2", "3")

        dry = _ok(runner, "rollback", "1", "--dry-run")
        assert "dry run" in dry and "create Route/extra" in dry and "update Route/hello" in dry
        _ok(runner, "rollback", "1")
        assert content_hash(store.snapshot().documents) == first_hash  # the first state, exactly
        newest = json.loads(_ok(runner, "history", "-o", "json"))[0]
        assert (newest["version"], newest["action"], newest["note"], newest["hash"]) == (
            4,
            "rollback",
            "to version 1",
            first_hash,
        )
        # the edge (reload interval 0 here; PORTICO_CONFIG_REFRESH_SECONDS in general) serves the restored config
        assert _body(edge, "/hello") == (200, {"hello": "first"}) and _body(edge, "/extra") == (200, {"extra": True})
        assert "versions 1 and 4 hold the same config" in _ok(runner, "diff", "1", "4")
    finally:
        edge.close()


def test_a_corrupted_history_item_is_skipped_and_logged(
    tables: dict[str, str], tmp_path: Path, dynamodb: Any, caplog: pytest.LogCaptureFixture
) -> None:
    runner = CliRunner()
    first = tmp_path / "first.yaml"
    first.write_text(FIRST)
    for text in ("first", "second", "third"):
        first.write_text(FIRST.replace("hello: first", f"hello: {text}"))
        _ok(runner, "apply", "-f", str(first))
    dynamodb.put_item(  # a hand edit in the console breaks the second record
        TableName=tables["config"],
        Item={"kind": {"S": "__history__"}, "name": {"S": "000000000002"}, "record": {"S": '{"version": "two"'}},
    )
    with caplog.at_level(logging.ERROR, logger="portico.config"):
        result = runner.invoke(app, ["history", "-o", "json"])
    assert result.exit_code == 0
    assert [r["version"] for r in json.loads(result.stdout)] == [3, 1]
    assert "skipped history item 000000000002" in result.stderr
    assert any("corrupted history item 000000000002" in r.getMessage() for r in caplog.records)
    failed = runner.invoke(app, ["rollback", "1"])  # undoing version 2 needs the record that is gone
    assert failed.exit_code == 1 and "version 1 cannot be rebuilt" in failed.stderr
    assert "Traceback" not in failed.output
    assert "hello: second" in _ok(runner, "diff", "2", "3")  # what the readable records still rebuild
    # the config itself still loads: history items are never mistaken for documents
    assert "hello" in _ok(runner, "get", "route")


def test_history_is_bounded_by_portico_history_limit(
    tables: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORTICO_HISTORY_LIMIT", "2")
    runner = CliRunner()
    doc = tmp_path / "doc.yaml"
    for n in range(4):
        doc.write_text(FIRST.replace("hello: first", f"hello: v{n}"))
        _ok(runner, "apply", "-f", str(doc))
    assert [r["version"] for r in json.loads(_ok(runner, "history", "-o", "json"))] == [4, 3]
    failed = runner.invoke(app, ["diff", "1", "4"])
    assert failed.exit_code == 1 and "not kept" in failed.stderr
