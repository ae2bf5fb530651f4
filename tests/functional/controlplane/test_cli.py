"""The `portico` CLI against the local AWS endpoint: validate, apply (dry run, atomicity), get, delete, schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from portico.adapters.dynamodb.config_store import DynamoDbConfigStore
from portico.cli.main import app

FIXTURES = Path(__file__).parents[2] / "fixtures" / "config"
ALL_KINDS = FIXTURES / "valid-all.yaml"


@pytest.fixture
def cli(tables: dict[str, str]) -> CliRunner:
    return CliRunner()


def _version(tables: dict[str, str], dynamodb: Any) -> int:
    return DynamoDbConfigStore(tables["config"], client=dynamodb).version()


def test_validate_names_file_document_path_and_suggestion(cli: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "mesh.yaml"
    bad.write_text(ALL_KINDS.read_text().replace("maxRetries: 3", "maxRetires: 3"))
    result = cli.invoke(app, ["validate", "-f", str(bad)])
    assert result.exit_code == 1
    assert (
        f"{bad}: document 5: spec.trafficPolicy.connectionPool.http.maxRetires: unknown field 'maxRetires'; "
        "did you mean 'maxRetries'?" in " ".join(result.output.split())
    )


def test_apply_with_one_bad_document_changes_nothing(
    cli: CliRunner, tables: dict[str, str], dynamodb: Any, tmp_path: Path
) -> None:
    assert cli.invoke(app, ["apply", "-f", str(ALL_KINDS)]).exit_code == 0
    assert _version(tables, dynamodb) == 1
    mixed = tmp_path / "mixed.yaml"
    good_change = ALL_KINDS.read_text().replace("weight: 90", "weight: 80").replace("weight: 10", "weight: 20")
    mixed.write_text(good_change.replace("leeway: 60s", "leeway: sixty"))
    result = cli.invoke(app, ["apply", "-f", str(mixed)])
    assert result.exit_code == 1 and "nothing was written" in result.output
    assert _version(tables, dynamodb) == 1
    shown = cli.invoke(app, ["get", "vs", "payments", "-o", "json"])
    assert [r["weight"] for r in json.loads(shown.output)["spec"]["http"][0]["route"]] == [90, 10]


def test_dry_run_shows_a_diff_and_writes_nothing(
    cli: CliRunner, tables: dict[str, str], dynamodb: Any, tmp_path: Path
) -> None:
    cli.invoke(app, ["apply", "-f", str(ALL_KINDS)])
    changed = tmp_path / "changed.yaml"
    changed.write_text(ALL_KINDS.read_text().replace("weight: 90", "weight: 80").replace("weight: 10", "weight: 20"))
    result = cli.invoke(app, ["apply", "-f", str(changed), "--dry-run"])
    assert result.exit_code == 0
    assert "-      weight: 90" in result.output and "+      weight: 80" in result.output
    assert "version stays 1" in result.output
    assert _version(tables, dynamodb) == 1


def test_apply_then_get_round_trips_every_kind_and_reapply_is_a_no_op(
    cli: CliRunner, tables: dict[str, str], dynamodb: Any
) -> None:
    assert cli.invoke(app, ["apply", "-f", str(ALL_KINDS)]).exit_code == 0
    written = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(ALL_KINDS.read_text())}
    for kind, name in written:
        got = cli.invoke(app, ["get", kind, name, "-o", "yaml"])
        assert got.exit_code == 0, got.output
        doc = yaml.safe_load(got.output)
        assert (doc["kind"], doc["metadata"]["name"]) == (kind, name)
    # Everything the user wrote comes back (normalised spellings aside, which a second apply proves equal).
    listing = cli.invoke(app, ["get", "route"])
    assert "orders-get" in listing.output and "config version 1" in listing.output
    again = cli.invoke(app, ["apply", "-f", str(ALL_KINDS)])
    assert "no changes" in again.output and _version(tables, dynamodb) == 1


def test_delete_refuses_a_referenced_document(cli: CliRunner, tables: dict[str, str], dynamodb: Any) -> None:
    cli.invoke(app, ["apply", "-f", str(ALL_KINDS)])
    refused = cli.invoke(app, ["delete", "issuer", "corp"])
    assert refused.exit_code == 1 and "Issuer 'corp'" in refused.output
    assert cli.invoke(app, ["delete", "route", "orders-get"]).exit_code == 0
    assert cli.invoke(app, ["delete", "issuer", "corp"]).exit_code == 0
    assert _version(tables, dynamodb) == 3


def test_ssrf_upstreams_are_refused_by_apply(
    cli: CliRunner, tables: dict[str, str], dynamodb: Any, tmp_path: Path
) -> None:
    for url in [
        "http://169.254.169.254/",
        "http://[::ffff:169.254.169.254]/",
        "http://2852039166/",
        "http://user@localhost/",
    ]:
        path = tmp_path / "ssrf.yaml"
        path.write_text(ALL_KINDS.read_text().replace("https://orders.example.internal/orders/{orderId}", url))
        result = cli.invoke(app, ["apply", "-f", str(path)])
        assert result.exit_code == 1 and "upstream refused" in result.output, url
    assert _version(tables, dynamodb) == 0


def test_schema_is_json_schema_for_every_kind() -> None:
    result = CliRunner().invoke(app, ["schema"])
    schema = json.loads(result.output)
    kinds = {d["properties"]["kind"]["const"] for d in schema["$defs"].values() if "kind" in d.get("properties", {})}
    assert kinds == {
        "Route",
        "Issuer",
        "RateLimitPolicy",
        "Consumer",
        "Portal",
        "VirtualService",
        "DestinationRule",
        "AuthorizationPolicy",
    }
