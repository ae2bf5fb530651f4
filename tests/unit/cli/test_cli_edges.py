"""Issue 19's CLI rough edges, each checked: files after one -f and globs, help without type placeholders, whole
lines when piped, the loopback message naming its setting, and the schema's top level first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from portico.cli.main import app, command

ROUTE = """
apiVersion: portico/v1
kind: Route
metadata: {{name: {name}}}
spec:
  match: {{path: /{name}}}
  auth: {{none: {{}}}}
  upstream: {{http: {{url: "{url}"}}}}
"""


def _write(folder: Path, name: str, url: str = "https://orders.example.com/") -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(ROUTE.format(name=name, url=url))
    return path


@pytest.fixture(autouse=True)
def _no_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PORTICO_ALLOW_LOOPBACK_UPSTREAMS", raising=False)


def test_several_files_after_one_f_and_quoted_globs(tmp_path: Path) -> None:
    a, b = _write(tmp_path, "a"), _write(tmp_path, "b")
    (tmp_path / "sub").mkdir()
    _write(tmp_path / "sub", "c")
    runner = CliRunner()
    two = runner.invoke(app, ["validate", "-f", str(a), str(b)])
    assert two.exit_code == 0 and "2 document(s) valid in 2 file(s)" in two.stdout
    globbed = runner.invoke(app, ["validate", "-f", str(tmp_path / "*.yaml"), "-f", str(tmp_path / "sub" / "*.yaml")])
    assert globbed.exit_code == 0 and "3 document(s) valid in 3 file(s)" in globbed.stdout
    nothing = runner.invoke(app, ["validate", "-f", str(tmp_path / "*.yml")])
    assert nothing.exit_code == 1 and "no file matches" in nothing.stderr
    none = runner.invoke(app, ["validate"])
    assert none.exit_code == 1 and "no files given: use -f FILE" in none.stderr


@pytest.mark.parametrize("args", [["apply"], ["validate"], ["get"], ["history"], ["rollback"], ["dev", "token"], []])
def test_help_names_values_and_shows_no_type_placeholders(args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # run the console script's own command, which typer's CliRunner would otherwise rebuild from `app`
    monkeypatch.setattr("typer.testing._get_command", lambda _app: command())
    shown = CliRunner().invoke(app, [*args, "--help"], terminal_width=120)
    assert shown.exit_code == 0
    for placeholder in ("<bool>", "<str>", "<int>", "<list", "<Path", "<path"):
        assert placeholder not in shown.stdout, f"{args}: {placeholder}"
    if args in (["apply"], ["validate"]):
        assert "-f      FILE" in shown.stdout and "[FILE]..." in shown.stdout


def test_piped_tables_and_notices_are_never_cut(tmp_path: Path) -> None:
    from portico.cli import output

    long_name = "orders-" + "x" * 150
    shown = CliRunner().invoke(app, ["validate", "-f", str(_write(tmp_path, long_name, "http://127.0.0.1:9/"))])
    # a captured (non-terminal) console is never cut at 80 columns: the whole message is on one line
    line = next(raw for raw in shown.stderr.splitlines() if "loopback" in raw)
    assert long_name in line and "PORTICO_ALLOW_LOOPBACK_UPSTREAMS=true" in line
    assert output.out.width == output.UNLIMITED  # CliRunner's capture, like a pipe, is not a terminal


def test_the_loopback_refusal_names_the_setting_that_allows_it(tmp_path: Path) -> None:
    refused = CliRunner().invoke(app, ["validate", "-f", str(_write(tmp_path, "local", "http://127.0.0.1:8080/x"))])
    assert refused.exit_code == 1
    assert "127.0.0.1 is a loopback address; local development allows it with" in refused.stderr
    assert "PORTICO_ALLOW_LOOPBACK_UPSTREAMS=true" in refused.stderr
    named = CliRunner().invoke(app, ["validate", "-f", str(_write(tmp_path, "named", "http://localhost:8080/x"))])
    assert "PORTICO_ALLOW_LOOPBACK_UPSTREAMS=true" in named.stderr


def test_schema_puts_the_top_level_first_and_definitions_last() -> None:
    shown = CliRunner().invoke(app, ["schema"])
    schema = json.loads(shown.stdout)
    keys = list(schema)
    assert keys[:2] == ["$schema", "title"] and keys[-1] == "$defs"
    assert "oneOf" in keys and schema["discriminator"]["propertyName"] == "kind"
    assert shown.stdout.index('"oneOf"') < shown.stdout.index('"$defs"')
