"""`portico import appmesh`: read App Mesh definitions from files and write Portico config plus a mapping report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from portico.cli.output import EXIT_INVALID, fail

EXIT_UNMAPPED = 4  # --strict and some field could not be mapped

importer = typer.Typer(help="Import definitions from other meshes into Portico config.", no_args_is_help=True)


def _params(values: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            fail(f"--param {item!r} is not NAME=VALUE")
        out[name] = value
    return out


def _read(path: Path) -> str:
    from portico.core.appmesh.source import MAX_BYTES

    try:
        if path.stat().st_size > MAX_BYTES:
            fail(f"{path}: file is larger than {MAX_BYTES // (1024 * 1024)} MiB")
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        fail(f"{path}: not UTF-8 text")
    except OSError as exc:
        fail(f"{path}: cannot read: {exc.strerror or exc}")


@importer.command("appmesh")
def appmesh(
    files: Annotated[
        list[Path],
        typer.Option(
            "-f",
            "--file",
            help="A CloudFormation template, CLI input or describe output; repeat (later files update earlier).",
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Write portico.yaml and sidecars.yaml to this folder instead of stdout."),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help=f"Exit {EXIT_UNMAPPED} when any field is unmapped or only partly mapped.")
    ] = False,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param", help="NAME=VALUE for a CloudFormation parameter or a shell placeholder ($NAME); repeat."
        ),
    ] = None,
    trust_domain: Annotated[
        str, typer.Option("--trust-domain", help="SPIFFE trust domain of the principals.")
    ] = "cluster.local",
    namespace: Annotated[str, typer.Option("--namespace", help="SPIFFE namespace of the principals.")] = "default",
) -> None:
    """App Mesh (CloudFormation YAML/JSON, `aws appmesh` CLI inputs, describe outputs) to Portico config."""
    from portico.core.appmesh.errors import ImportFailure
    from portico.core.appmesh.inputs import resources_in
    from portico.core.appmesh.report import render_text
    from portico.core.appmesh.source import load_text
    from portico.core.appmesh.translate import render, render_sidecars, translate

    values = _params(param or [])
    try:
        resources = []
        for path in files:
            resources.extend(resources_in(str(path), load_text(str(path), _read(path)), values))
        result = translate(resources, trust_domain=trust_domain, namespace=namespace)
    except ImportFailure as exc:
        fail(str(exc), EXIT_INVALID)
    config, sidecars = render(result), render_sidecars(result)
    sys.stderr.write(render_text(result.report))
    if output is None:
        sys.stdout.write(config)
        sys.stdout.write("".join(f"# {line}\n" for line in sidecars.splitlines()))
    else:
        output.mkdir(parents=True, exist_ok=True)
        (output / "portico.yaml").write_text(config, encoding="utf-8")
        (output / "sidecars.yaml").write_text(sidecars, encoding="utf-8")
        sys.stderr.write(f"wrote {output / 'portico.yaml'} and {output / 'sidecars.yaml'}\n")
    failing = result.report.failing()
    if strict and failing:
        sys.stderr.write(f"--strict: {len(failing)} field(s) unmapped or partly mapped\n")
        raise typer.Exit(EXIT_UNMAPPED)


def register(app: typer.Typer) -> None:
    app.add_typer(importer, name="import")
