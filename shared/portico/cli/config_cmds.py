"""`portico validate|apply|get|delete|schema`: manage routes and policies in the config table from YAML."""

from __future__ import annotations

import glob
import json
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.markup import escape
from rich.table import Table

from portico.cli.output import EXIT_UNAVAILABLE, err, fail, out
from portico.controlplane import (
    Audit,
    apply_documents,
    broken_items,
    check_references,
    delete_document,
    json_schema,
    read_files,
)
from portico.core.config.context import ValidationSettings
from portico.core.config.documents import KINDS, Document, to_mapping
from portico.core.config.loader import ConfigError
from portico.core.config.plan import render_diff
from portico.core.config.snapshot import load_snapshot
from portico.core.ports import ChangeTooLarge, ConcurrentChange, ConfigStore, StoreUnavailable

_KIND_ALIASES = {
    "route": "Route",
    "issuer": "Issuer",
    "ratelimitpolicy": "RateLimitPolicy",
    "ratelimit": "RateLimitPolicy",
    "rlp": "RateLimitPolicy",
    "consumer": "Consumer",
    "portal": "Portal",
    "virtualservice": "VirtualService",
    "vs": "VirtualService",
    "destinationrule": "DestinationRule",
    "dr": "DestinationRule",
    "authorizationpolicy": "AuthorizationPolicy",
    "ap": "AuthorizationPolicy",
}

FileOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "-f",
        "--file",
        help="YAML files or globs: -f a.yaml b.yaml, -f 'config/*.yaml', or -f a.yaml -f b.yaml.",
        show_default=False,
    ),
]
MoreFiles = Annotated[
    list[Path] | None, typer.Argument(help="More files, after -f.", metavar="FILE", show_default=False)
]


def expand_files(files: list[Path] | None, more: list[Path] | None) -> list[Path]:
    """Every file named after -f (repeated or not), with quoted globs expanded in sorted order.

    Click gives one value per -f, so `-f a.yaml b.yaml` arrives as an option and an argument: both are files. A
    pattern the shell did not expand (quoted, or matching nothing) is expanded here; one that matches nothing is an
    error, never a silent no-op.
    """
    found: list[Path] = []
    for path in [*(files or []), *(more or [])]:
        text = str(path)
        if glob.has_magic(text):
            matches = sorted(Path(m) for m in glob.glob(text, recursive=True))
            if not matches:
                fail(f"no file matches {text!r}")
            found.extend(matches)
        else:
            found.append(path)
    if not found:
        fail("no files given: use -f FILE [FILE...] (globs such as -f 'config/*.yaml' work too)")
    return list(dict.fromkeys(found))


class Format(StrEnum):
    table = "table"
    yaml = "yaml"
    json = "json"


def settings_from_env() -> ValidationSettings:
    """The loopback allowance is local development's own explicit flag, never a default."""
    flag = os.environ.get("PORTICO_ALLOW_LOOPBACK_UPSTREAMS", "").lower()
    return ValidationSettings(allow_loopback=flag in ("1", "true", "yes"))


def resolve_kind(text: str) -> str:
    key = text.lower().removesuffix("s") if text.lower() not in ("dr", "vs", "ap") else text.lower()
    if key.endswith("ie"):  # policies -> policy
        key = key[:-2] + "y"
    kind = _KIND_ALIASES.get(key) or _KIND_ALIASES.get(text.lower())
    if kind is None:
        fail(f"unknown kind {text!r}; known kinds: {', '.join(KINDS)}")
    return kind


def open_store() -> ConfigStore:
    from portico.adapters.aws import table_names
    from portico.adapters.dynamodb.config_store import DynamoDbConfigStore

    return DynamoDbConfigStore(table_names()["config"])


def _audit() -> Audit:
    from portico.cli.history_cmds import audit_now  # STS is asked only when something will be written

    return audit_now()


def _report(exc: ConfigError) -> None:
    for issue in exc.issues:
        err.print(f"[red]✗[/red] {escape(str(issue))}", soft_wrap=True)


def validate(
    files: FileOpt = None,
    more: MoreFiles = None,
    against_store: Annotated[
        bool,
        typer.Option("--against-store", help="Check references against the live config table, not only these files."),
    ] = False,
) -> None:
    """Validate files: schema, field paths with suggestions, and references (missing subsets, issuers, policies)."""
    files = expand_files(files, more)
    try:
        docs = read_files(files, settings_from_env())
        if against_store:  # the files over the stored config, as an apply would leave it; nothing is written
            for line in broken_items(apply_documents(open_store(), docs, dry_run=True)):
                err.print(f"[yellow]warning:[/yellow] {escape(line)}", soft_wrap=True)
        else:
            check_references(docs, ", ".join(map(str, files)))
    except ConfigError as exc:
        _report(exc)
        raise typer.Exit(1) from exc
    except StoreUnavailable as exc:
        fail(f"config store unavailable: {exc}", EXIT_UNAVAILABLE)
    where = " against the stored config" if against_store else ""
    out.print(f"[green]✓[/green] {len(docs)} document(s) valid in {len(files)} file(s){where}")


def apply(
    files: FileOpt = None,
    more: MoreFiles = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the diff and write nothing.")] = False,
) -> None:
    """Apply files to the config table: changed documents and a version bump in one transaction."""
    files = expand_files(files, more)
    try:
        docs = read_files(files, settings_from_env())
        result = apply_documents(open_store(), docs, dry_run=dry_run, audit=None if dry_run else _audit())
    except ConfigError as exc:
        _report(exc)
        err.print("nothing was written")
        raise typer.Exit(1) from exc
    except (ConcurrentChange, ChangeTooLarge) as exc:
        fail(f"{exc}; nothing was written")
    except StoreUnavailable as exc:
        fail(f"config store unavailable: {exc}; nothing was written", EXIT_UNAVAILABLE)
    for line in broken_items(result):
        err.print(f"[yellow]warning:[/yellow] {escape(line)}", soft_wrap=True)
    diff = render_diff(result.plan)
    if diff:
        out.print(escape(diff), soft_wrap=True)
    summary = ", ".join(f"{c.action} {c.kind}/{c.name}" for c in result.plan.changes) or "no changes"
    if dry_run:
        out.print(f"dry run: {summary}; {result.plan.unchanged} unchanged; version stays {result.version_before}")
    else:
        out.print(f"{summary}; {result.plan.unchanged} unchanged; version {result.version_after}")


def _summary(doc: Document) -> str:
    spec: Any = doc.spec
    if doc.kind == "Route":
        m = spec.match
        path = m.path or (f"{m.path_prefix}*" if m.path_prefix else f"~{m.path_regex}")
        methods = ",".join(m.methods) if m.methods else "*"
        upstream = next(
            k for k in ("http", "lambda_", "grpc", "service", "aggregate", "mock") if getattr(spec.upstream, k)
        )
        return f"{methods} {m.host or '*'}{path} -> {upstream.rstrip('_')}"
    if doc.kind == "VirtualService":
        routes = [f"{n}={len(r)}" for n, r in (("http", spec.http), ("tcp", spec.tcp), ("tls", spec.tls)) if r]
        return f"hosts={','.join(spec.hosts)} {' '.join(routes)}"
    if doc.kind == "DestinationRule":
        return f"host={spec.host} subsets={','.join(s.name for s in spec.subsets)}"
    if doc.kind == "Issuer":
        return spec.issuer  # type: ignore[no-any-return]
    if doc.kind == "RateLimitPolicy":
        return ", ".join(f"{lim.requests}/{lim.window:g}s" for lim in spec.limits)
    if doc.kind == "Consumer":
        return f"plan={spec.plan or '-'} keys={len(spec.api_keys)}"
    return f"action={spec.action} rules={len(spec.rules)}"


def get(
    kind: Annotated[str, typer.Argument(help="Route, Issuer, RateLimitPolicy, Consumer, VirtualService, ...")],
    name: Annotated[str | None, typer.Argument()] = None,
    output: Annotated[Format, typer.Option("-o", "--output")] = Format.table,
) -> None:
    """List or show stored documents."""
    resolved = resolve_kind(kind)
    try:
        loaded = load_snapshot(open_store().snapshot(), ValidationSettings(allow_loopback=True))
    except StoreUnavailable as exc:
        fail(f"config store unavailable: {exc}", EXIT_UNAVAILABLE)
    docs = [d for d in loaded.config.documents() if d.kind == resolved and (name is None or d.metadata.name == name)]
    if name is not None and not docs:
        fail(f"{resolved} {name!r} not found")
    for line in loaded.skipped:
        err.print(f"[yellow]warning:[/yellow] skipped invalid item {escape(str(line))}", soft_wrap=True)
    if output is Format.yaml:
        out.print(escape(yaml.safe_dump_all([to_mapping(d) for d in docs], sort_keys=False)), end="")
    elif output is Format.json:
        payload: Any = [to_mapping(d) for d in docs]
        out.print_json(json.dumps(payload[0] if name is not None else payload))
    else:
        table = Table(title=f"{resolved} (config version {loaded.version})")
        table.add_column("NAME")
        table.add_column("SUMMARY")
        for d in docs:
            table.add_row(d.metadata.name, escape(_summary(d)))
        out.print(table)


def delete(kind: Annotated[str, typer.Argument()], name: Annotated[str, typer.Argument()]) -> None:
    """Delete one document; refused while other documents still reference it."""
    resolved = resolve_kind(kind)
    try:
        result = delete_document(open_store(), resolved, name, audit=_audit())
    except LookupError as exc:
        fail(str(exc))
    except ConfigError as exc:
        _report(exc)
        fail("not deleted: other documents still reference it")
    except (StoreUnavailable, ConcurrentChange) as exc:
        fail(f"not deleted: {exc}", EXIT_UNAVAILABLE)
    out.print(f"deleted {resolved}/{name}; version {result.version_after}")


def schema() -> None:
    """Print the JSON Schema of config documents, for editors."""
    out.print(json_schema(), markup=False, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    for command in (validate, apply, get, delete, schema):
        app.command()(command)
