"""`portico openapi`: export the developer portal's OpenAPI 3.1 document, from files or from the live config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from portico.cli.config_cmds import open_store, settings_from_env
from portico.cli.output import EXIT_UNAVAILABLE, err, fail, out
from portico.controlplane import check_references, read_files
from portico.core.config.configset import ConfigSet
from portico.core.config.context import ValidationSettings
from portico.core.config.loader import ConfigError
from portico.core.config.snapshot import load_snapshot
from portico.core.portal.openapi import openapi_document
from portico.core.ports import StoreUnavailable


def openapi(
    files: Annotated[
        list[Path] | None,
        typer.Option("-f", "--file", help="Build from these YAML files instead of the config table; repeatable."),
    ] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write here instead of stdout.")] = None,
    title: Annotated[str, typer.Option("--title", help="info.title of the document.")] = "Portico API",
) -> None:
    """Export the OpenAPI 3.1 document that GET /_portico/openapi.json serves."""
    if files:
        try:
            docs = read_files(files, settings_from_env())
            check_references(docs, ", ".join(map(str, files)))
        except ConfigError as exc:
            for issue in exc.issues:
                err.print(f"[red]✗[/red] {escape(str(issue))}", soft_wrap=True)
            raise typer.Exit(1) from exc
        config, version = ConfigSet.of(docs), "files"
    else:
        try:
            loaded = load_snapshot(open_store().snapshot(), ValidationSettings(allow_loopback=True))
        except StoreUnavailable as exc:
            fail(f"config store unavailable: {exc}", EXIT_UNAVAILABLE)
        config, version = loaded.config, str(loaded.version)
    text = json.dumps(openapi_document(config, title=title, version=version), indent=2)
    if output is None:
        out.print(text, markup=False, highlight=False, soft_wrap=True)
        return
    output.write_text(text + "\n", encoding="utf-8")
    err.print(f"wrote {escape(str(output))} ({len(config.routes)} routes)")


def register(app: typer.Typer) -> None:
    app.command()(openapi)
