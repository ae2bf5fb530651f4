"""`portico import appmesh` as a user runs it: output that `portico validate` accepts, the report, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from portico.cli.import_cmds import EXIT_UNMAPPED
from portico.cli.main import app
from tests.unit.appmesh.support import FIXTURES

COLORAPP = str(FIXTURES / "colorapp.yaml")
UPDATE = str(FIXTURES / "colorteller-route-black-80-blue-20.json")


def test_output_dir_validates_and_the_report_goes_to_stderr(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["import", "appmesh", "-f", COLORAPP, "-f", UPDATE, "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "unmapped  spec.listeners.healthCheck.healthyThreshold" in result.stderr
    assert "mapped    spec.httpRoute.action.weightedTargets.weight" in result.stderr
    assert (tmp_path / "sidecars.yaml").read_text().count("portico sidecar --service") == 4
    checked = runner.invoke(app, ["validate", "-f", str(tmp_path / "portico.yaml")])
    assert checked.exit_code == 0, checked.output
    assert "8 document(s) valid" in checked.output


def test_same_input_twice_gives_byte_identical_output() -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["import", "appmesh", "-f", COLORAPP, "-f", UPDATE])
    second = runner.invoke(app, ["import", "appmesh", "-f", COLORAPP, "-f", UPDATE])
    assert first.exit_code == second.exit_code == 0
    assert first.stdout_bytes == second.stdout_bytes and first.stdout_bytes
    assert first.stderr_bytes == second.stderr_bytes


def test_strict_fails_when_anything_is_unmapped() -> None:
    result = CliRunner().invoke(app, ["import", "appmesh", "-f", COLORAPP, "--strict"])
    assert result.exit_code == EXIT_UNMAPPED
    assert "--strict: 5 field(s) unmapped or partly mapped" in result.stderr


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("broken.yaml", "broken.yaml: Resources.Route: Properties.Spec: YAML syntax error: line 7"),
        (
            "route-missing-router.json",
            "route-missing-router.json: Route lost-route: virtualRouterName: names VirtualRouter",
        ),
        (
            "route-weight-minus-one.json",
            "Route colorteller-route: spec.httpRoute.action.weightedTargets[1].weight: weight -1",
        ),
    ],
)
def test_malformed_input_exits_1_with_file_resource_and_field(extra: str, expected: str) -> None:
    result = CliRunner().invoke(app, ["import", "appmesh", "-f", COLORAPP, "-f", str(FIXTURES / extra)])
    assert result.exit_code == 1
    assert expected in " ".join(result.stderr.split())
    assert "Traceback" not in result.output and not result.stdout


def test_unreadable_and_bad_params_are_clear(tmp_path: Path) -> None:
    missing = CliRunner().invoke(app, ["import", "appmesh", "-f", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 1 and "cannot read" in missing.stderr
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    bad = CliRunner().invoke(app, ["import", "appmesh", "-f", str(binary)])
    assert bad.exit_code == 1 and "not UTF-8" in bad.stderr
    param = CliRunner().invoke(app, ["import", "appmesh", "-f", COLORAPP, "--param", "oops"])
    assert param.exit_code == 1 and "NAME=VALUE" in param.stderr


def test_stdout_output_with_its_sidecar_comments_validates(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["import", "appmesh", "-f", COLORAPP])
    assert result.exit_code == 0
    assert "# - node: colorteller-black-vn" in result.stdout
    saved = tmp_path / "imported.yaml"
    saved.write_text(result.stdout)
    checked = runner.invoke(app, ["validate", "-f", str(saved)])
    assert checked.exit_code == 0, checked.output
