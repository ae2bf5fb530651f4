"""Issue 20 defects 1, 2 and 12 through the real pipeline: hand-written items in the config table, the edge
handler reading it, and the `portico` CLI against the local AWS endpoint.

- A deeply nested item is skipped and logged; everything else loads, on running and fresh edges alike.
- A Route naming a RateLimitPolicy that does not exist fails closed: skipped and logged, never served unlimited.
- Broken stored items never block unrelated applies: apply names them and offers `portico delete`, which works.
- Too many documents, or a too deeply nested file, get one clear line and exit 1, never a traceback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from portico.cli.main import app
from portico.edge.runtime import Edge

EVENT = Path(__file__).parents[2] / "fixtures" / "events" / "http-api-proxy.json"

CONFIG = """
apiVersion: portico/v1
kind: Route
metadata: {name: hello}
spec:
  match: {path: /hello}
  auth: {none: {}}
  upstream: {mock: {status: 200, json: {hello: world}}}
---
apiVersion: portico/v1
kind: RateLimitPolicy
metadata: {name: tight}
spec:
  key: ip
  limits: [{requests: 1, window: 1h}]
"""

LIMITED = {
    "apiVersion": "portico/v1",
    "kind": "Route",
    "metadata": {"name": "limited"},
    "spec": {
        "match": {"path": "/limited"},
        "auth": {"none": {}},
        "rateLimit": "no-such-policy",
        "upstream": {"mock": {"status": 200, "json": {"limited": False}}},
    },
}


def _event(path: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(EVENT.read_text())
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = "GET"
    event["body"], event["rawQueryString"] = None, ""
    return event


def _put(dynamodb: Any, table: str, kind: str, name: str, body: str) -> None:
    """What a hand edit in the console does: an item written past `portico apply`, then a version bump."""
    dynamodb.put_item(TableName=table, Item={"kind": {"S": kind}, "name": {"S": name}, "body": {"S": body}})
    dynamodb.update_item(
        TableName=table,
        Key={"kind": {"S": "__meta__"}, "name": {"S": "version"}},
        UpdateExpression="ADD version :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )


@pytest.fixture
def cli(tables: dict[str, str], tmp_path: Path) -> CliRunner:
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    runner = CliRunner()
    applied = runner.invoke(app, ["apply", "-f", str(config)])
    assert applied.exit_code == 0, applied.output
    return runner


@pytest.fixture
def edge(cli: CliRunner, tables: dict[str, str]) -> Iterator[Edge]:
    built = Edge.from_env({"PORTICO_CONFIG_TABLE": tables["config"], "PORTICO_CONFIG_REFRESH_SECONDS": "0"})
    yield built
    built.close()


def _status(edge: Edge, path: str) -> int:
    return int(edge.handle(_event(path))["statusCode"])


def _unrelated_apply(cli: CliRunner, tmp_path: Path) -> Any:
    other = tmp_path / "other.yaml"
    other.write_text(CONFIG.replace("/hello", "/hello2").replace("name: hello", "name: hello2"))
    return cli.invoke(app, ["apply", "-f", str(other)])


def test_a_deeply_nested_item_is_skipped_and_everything_else_loads(
    cli: CliRunner,
    edge: Edge,
    tables: dict[str, str],
    dynamodb: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert _status(edge, "/hello") == 200  # a running edge, at version 1
    _put(dynamodb, tables["config"], "Route", "deep", '{"a":' * 5000 + "1" + "}" * 5000)
    with caplog.at_level(logging.ERROR, logger="portico.config"):
        assert _status(edge, "/hello") == 200
    assert "Route/deep" in caplog.text and "nests deeper than 64 levels" in caplog.text
    assert "config refresh failed" not in caplog.text

    fresh = Edge.from_env({"PORTICO_CONFIG_TABLE": tables["config"]})
    try:
        assert _status(fresh, "/hello") == 200
    finally:
        fresh.close()

    got = cli.invoke(app, ["get", "route"])
    assert got.exit_code == 0 and "hello" in got.output
    assert "Route/deep" in got.output and "Traceback" not in got.output
    applied = _unrelated_apply(cli, tmp_path)
    assert applied.exit_code == 0, applied.output
    assert "create Route/hello2" in applied.output
    assert "stored Route 'deep' is broken" in applied.output and "portico delete route deep" in applied.output
    # ... and the running edge takes the version after it: it never got stuck on the bad item
    assert _status(edge, "/hello2") == 200


def test_a_dangling_rate_limit_fails_closed_and_blocks_nothing(
    cli: CliRunner,
    edge: Edge,
    tables: dict[str, str],
    dynamodb: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _put(dynamodb, tables["config"], "Route", "limited", json.dumps(LIMITED))
    with caplog.at_level(logging.ERROR, logger="portico.config"):
        statuses = [_status(edge, "/limited") for _ in range(3)]
    assert statuses == [404, 404, 404]  # never served without the limit its author wrote
    assert "Route/limited" in caplog.text and "'no-such-policy', which does not exist" in caplog.text
    assert _status(edge, "/hello") == 200

    applied = _unrelated_apply(cli, tmp_path)
    assert applied.exit_code == 0, applied.output
    text = " ".join(applied.output.split())
    assert "stored Route 'limited' is broken: spec.rateLimit names RateLimitPolicy 'no-such-policy'" in text
    assert "`portico delete route limited`" in text

    deleted = cli.invoke(app, ["delete", "route", "limited"])
    assert deleted.exit_code == 0, deleted.output
    again = _unrelated_apply(cli, tmp_path)
    assert again.exit_code == 0 and "broken" not in again.output


def test_a_dangling_reference_that_the_apply_fixes_is_served_after_it(
    cli: CliRunner, edge: Edge, tables: dict[str, str], dynamodb: Any, tmp_path: Path
) -> None:
    _put(dynamodb, tables["config"], "Route", "limited", json.dumps(LIMITED))
    assert _status(edge, "/limited") == 404
    policy = tmp_path / "policy.yaml"
    policy.write_text(CONFIG.split("---")[1].replace("name: tight", "name: no-such-policy"))
    assert cli.invoke(app, ["apply", "-f", str(policy)]).exit_code == 0
    assert _status(edge, "/limited") == 200
    assert _status(edge, "/limited") == 429  # one request an hour, per ip: the limit now holds


def test_an_apply_that_introduces_a_dangling_reference_is_still_refused(cli: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(CONFIG.split("---")[0].replace("auth: {none: {}}", "auth: {none: {}}\n  rateLimit: nope"))
    result = cli.invoke(app, ["apply", "-f", str(bad)])
    assert result.exit_code == 1 and "RateLimitPolicy 'nope', which does not exist" in " ".join(result.output.split())


def test_more_documents_than_one_transaction_get_one_clear_line(cli: CliRunner, tmp_path: Path) -> None:
    many = tmp_path / "many.yaml"
    many.write_text("\n---\n".join(CONFIG.split("---")[0].replace("hello", f"hello-{i}") for i in range(120)))
    result = cli.invoke(app, ["apply", "-f", str(many)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "120 changes exceed the 98" in lines[0] and "nothing was written" in lines[0]


def test_a_deeply_nested_file_gets_one_clear_line(cli: CliRunner, tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text(CONFIG + "\n---\n" + "spec: " + "[" * 5000 + "]" * 5000 + "\n")
    for command in (["apply", "-f", str(deep)], ["validate", "-f", str(deep)]):
        result = cli.invoke(app, command)
        assert result.exit_code == 1
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "Traceback" not in result.output and "RecursionError" not in result.output
        assert "the YAML nests deeper than 64 levels" in result.output


REVIEWS_VS = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - {destination: {host: reviews, subset: v1}, weight: 80}
    - {destination: {host: reviews, subset: v2}, weight: 20}
"""
REVIEWS_DR = """
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
"""


def test_validate_against_the_store_finds_subsets_in_the_live_table(cli: CliRunner, tmp_path: Path) -> None:
    vs, dr = tmp_path / "vs.yaml", tmp_path / "dr.yaml"
    vs.write_text(REVIEWS_VS)
    dr.write_text(REVIEWS_DR)
    alone = cli.invoke(app, ["validate", "-f", str(vs)])  # as istioctl analyze: the DestinationRule is missing
    assert alone.exit_code == 1 and "uses subset 'v1' of 'reviews', which no DestinationRule defines" in " ".join(
        alone.output.split()
    )
    before = cli.invoke(app, ["validate", "--against-store", "-f", str(vs)])
    assert before.exit_code == 1 and "subset 'v1'" in before.output  # the table does not have it either
    assert cli.invoke(app, ["apply", "-f", str(dr)]).exit_code == 0
    after = cli.invoke(app, ["validate", "--against-store", "-f", str(vs)])
    assert after.exit_code == 0 and "against the stored config" in after.output, after.output
    assert cli.invoke(app, ["validate", "-f", str(vs)]).exit_code == 1  # without the flag: only the files given


def test_a_sidecar_reading_the_table_skips_a_deep_mesh_item_and_keeps_taking_versions(
    cli: CliRunner, tables: dict[str, str], dynamodb: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The sidecar's reader: the same store and cache, with the mesh kinds only (portico.mesh.sidecar)."""
    from portico.adapters.dynamodb.config_store import DynamoDbConfigStore
    from portico.core.config.mesh_documents import MESH_KINDS
    from portico.core.config.refresh import ConfigCache

    dr = tmp_path / "dr.yaml"
    dr.write_text(REVIEWS_DR)
    assert cli.invoke(app, ["apply", "-f", str(dr)]).exit_code == 0
    cache = ConfigCache(DynamoDbConfigStore(tables["config"]), interval=0.0, kinds=MESH_KINDS)
    assert set(cache.current(0.0).config.destination_rules) == {"reviews"}
    _put(dynamodb, tables["config"], "VirtualService", "deep", '{"a":' * 5000 + "1" + "}" * 5000)
    with caplog.at_level(logging.ERROR, logger="portico.config"):
        loaded = cache.current(1.0)
    assert "VirtualService/deep" in " ".join(map(str, loaded.skipped)) and "config refresh failed" not in caplog.text
    assert set(loaded.config.destination_rules) == {"reviews"}
    vs = tmp_path / "vs.yaml"
    vs.write_text(REVIEWS_VS)
    assert cli.invoke(app, ["apply", "-f", str(vs)]).exit_code == 0
    later = cache.current(2.0)
    assert later.version > loaded.version and set(later.config.virtual_services) == {"reviews"}


def test_one_document_in_two_files_of_one_apply_is_named(cli: CliRunner, tmp_path: Path) -> None:
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(REVIEWS_DR)
    second.write_text(REVIEWS_DR.replace("name: v2", "name: v3"))
    result = cli.invoke(app, ["apply", "-f", str(first), "-f", str(second)])
    assert result.exit_code == 1 and "DestinationRule 'reviews' is defined more than once" in result.output
    assert "nothing was written" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
