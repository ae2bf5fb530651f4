"""`portico history|diff|rollback`: the control plane's audit trail, and going back to a kept version."""

from __future__ import annotations

import datetime
import json
import os
import time
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from portico.cli.config_cmds import open_store, resolve_kind, settings_from_env
from portico.cli.output import EXIT_UNAVAILABLE, err, fail, out
from portico.controlplane import Audit, diff_versions, rollback_to
from portico.core.config.history import History, HistoryError, history_limit
from portico.core.config.loader import ConfigError
from portico.core.config.plan import render_diff
from portico.core.ports import ConcurrentChange, HistoryStore, StoreUnavailable


def audit_now() -> Audit:
    """Who (STS GetCallerIdentity) and when, and PORTICO_HISTORY_LIMIT: how many records to keep (default 100)."""
    from portico.adapters.caller import caller_identity

    try:
        keep = history_limit(os.environ)
    except ValueError as exc:
        fail(str(exc))
    return Audit(who=caller_identity(), at=time.time(), keep=keep)


def _history() -> tuple[HistoryStore, History]:
    store = open_store()
    if not isinstance(store, HistoryStore):  # pragma: no cover - the DynamoDB store keeps history
        fail("this config store keeps no history")
    try:
        found = store.history()
    except StoreUnavailable as exc:
        fail(f"config store unavailable: {exc}", EXIT_UNAVAILABLE)
    for line in found.skipped:
        err.print(f"[yellow]warning:[/yellow] skipped {escape(line)}", soft_wrap=True)
    return store, found


def _when(at: float) -> str:
    return datetime.datetime.fromtimestamp(at, tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def history(
    kind: Annotated[str | None, typer.Argument(help="Only changes to this kind ...", show_default=False)] = None,
    name: Annotated[str | None, typer.Argument(help="... and this name.", show_default=False)] = None,
    output: Annotated[str, typer.Option("-o", "--output", help="table or json.")] = "table",
) -> None:
    """List config changes, newest first: version, time, who, what, and the content hash."""
    _, found = _history()
    records = list(found.records)
    if kind is not None:
        resolved = resolve_kind(kind)
        records = [r for r in records if r.touches(resolved, name)]
    if output == "json":
        rows = [
            {
                "version": r.version,
                "at": _when(r.at),
                "who": r.who,
                "action": r.action,
                "note": r.note,
                "hash": r.content_hash,
                "changes": [{"action": c.action, "kind": c.kind, "name": c.name} for c in r.changes],
            }
            for r in records
        ]
        out.print_json(json.dumps(rows))
        return
    if output != "table":
        fail(f"unknown output {output!r}; choose table or json")
    table = Table(title="config history")
    for column in ("VERSION", "WHEN (UTC)", "WHO", "ACTION", "CHANGES", "HASH"):
        table.add_column(column, overflow="fold")
    for r in records:
        action = f"{r.action} {r.note}".strip()
        cells = (str(r.version), _when(r.at), escape(r.who), escape(action), escape(r.summary()), r.content_hash[:19])
        table.add_row(*cells)
    out.print(table)


def diff(
    old: Annotated[int, typer.Argument(help="The earlier version.", show_default=False)],
    new: Annotated[int, typer.Argument(help="The later version.", show_default=False)],
) -> None:
    """Show what changed between two versions, as unified YAML diffs per document."""
    _history()  # warns about unreadable records before the diff
    try:
        plan = diff_versions(open_store(), old, new)
    except HistoryError as exc:
        fail(str(exc))
    except StoreUnavailable as exc:
        fail(f"config store unavailable: {exc}", EXIT_UNAVAILABLE)
    shown = render_diff(plan)
    out.print(escape(shown) if shown else f"versions {old} and {new} hold the same config", soft_wrap=True)


def rollback(
    version: Annotated[int, typer.Argument(help="The version to restore.", show_default=False)],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the diff and write nothing.")] = False,
) -> None:
    """Restore the config of an earlier version: an ordinary apply (validated, one transaction, recorded)."""
    try:
        result = rollback_to(
            open_store(), version, settings_from_env(), dry_run=dry_run, audit=None if dry_run else audit_now()
        )
    except HistoryError as exc:
        fail(str(exc))
    except ConfigError as exc:
        for issue in exc.issues:
            err.print(f"[red]✗[/red] {escape(str(issue))}", soft_wrap=True)
        fail(f"version {version} does not validate today; nothing was written")
    except ConcurrentChange as exc:
        fail(f"{exc}; nothing was written")
    except StoreUnavailable as exc:
        fail(f"config store unavailable: {exc}; nothing was written", EXIT_UNAVAILABLE)
    shown = render_diff(result.plan)
    if shown:
        out.print(escape(shown), soft_wrap=True)
    summary = ", ".join(f"{c.action} {c.kind}/{c.name}" for c in result.plan.changes) or "no changes"
    if dry_run:
        out.print(f"dry run: rollback to version {version}: {summary}; version stays {result.version_before}")
    else:
        out.print(f"rolled back to version {version}: {summary}; version {result.version_after}")


def register(app: typer.Typer) -> None:
    for command in (history, diff, rollback):
        app.command()(command)
