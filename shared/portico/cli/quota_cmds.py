"""`portico usage CONSUMER`: a consumer's counters in the current windows of its plan, read from the quota table."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from portico.cli.config_cmds import Format, open_store, settings_from_env
from portico.cli.output import EXIT_UNAVAILABLE, fail, out
from portico.core.config.configset import ConfigSet
from portico.core.config.snapshot import load_snapshot
from portico.core.ports import StoreUnavailable
from portico.core.quota.plan import QuotaPolicy
from portico.core.quota.usage import UsageError, UsageRow, consumer_plan, usage_keys, usage_rows


def usage(
    consumer: Annotated[str, typer.Argument(help="A Consumer's metadata.name.")],
    policy: Annotated[str | None, typer.Option("--policy", help="Inspect this policy instead of the plan.")] = None,
    output: Annotated[Format, typer.Option("-o", "--output")] = Format.table,
) -> None:
    """Show a consumer's current window counts and remaining quota for each limit of its plan."""
    try:
        config = load_snapshot(open_store().snapshot(), settings_from_env()).config
        chosen, partitions = _resolve(config, consumer, policy)
        rows = asyncio.run(_read(chosen, partitions, time.time()))
    except StoreUnavailable as exc:
        fail(f"store unavailable: {exc}", EXIT_UNAVAILABLE)
    if output is Format.table:
        _table(rows, chosen)
        return
    data = [dataclasses.asdict(row) for row in rows]
    if output is Format.json:
        out.print_json(json.dumps(data))
    else:
        out.print(_yaml(data), end="")


def _resolve(config: ConfigSet, name: str, policy_name: str | None) -> tuple[QuotaPolicy, list[str]]:
    try:
        return consumer_plan(config, name, policy_name)
    except UsageError as exc:
        fail(str(exc))


async def _read(policy: QuotaPolicy, partitions: list[str], now: float) -> list[UsageRow]:
    from portico.adapters.dynamodb.quota_store import DynamoDbQuotaStore  # boto3 only when the command runs

    store = DynamoDbQuotaStore.from_env(timeout=5.0)
    try:
        keys = [key for p in partitions for key in usage_keys(policy, p, now)]
        counts = await store.counts(keys)
    finally:
        store.close()
    return [row for p in partitions for row in usage_rows(policy, p, now, counts)]


def _table(rows: list[UsageRow], policy: QuotaPolicy) -> None:
    table = Table(title=f"policy {escape(policy.name)} ({policy.mode})")
    for column in ("limit", "window", "partition", "used", "limit/window", "remaining", "resets in"):
        table.add_column(column, justify="right" if column not in ("limit", "partition") else "left")
    for row in rows:
        table.add_row(
            escape(row.limit),
            f"{row.window}s",
            escape(row.partition),
            str(row.used),
            str(row.requests),
            str(row.remaining),
            f"{row.resets_in}s",
        )
    out.print(table)
    if policy.mode == "leasing":
        out.print("leasing mode: used includes tokens leased by edge instances and not yet spent")


def _yaml(data: list[dict[str, object]]) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False)


def register(app: typer.Typer) -> None:
    app.command()(usage)
