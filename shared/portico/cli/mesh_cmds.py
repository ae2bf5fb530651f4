"""`portico sidecar` (run the mesh sidecar) and `portico services` (the registry as a table)."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from portico.cli.output import EXIT_UNAVAILABLE, fail, out


def sidecar(ctx: typer.Context) -> None:
    """Run the mesh sidecar for one app instance (PORTICO_* environment variables mirror every flag).

    `portico sidecar --help` lists the flags. The console script starts the sidecar without importing this CLI
    (portico.cli.launch); this command is the same entry for `portico --help` and in-process callers.
    """
    from portico.mesh.main import main

    raise typer.Exit(main(ctx.args))


def services(
    service: Annotated[str | None, typer.Argument(help="Only this service.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include stale instances (heartbeat too old).")] = False,
    stale_after: Annotated[float, typer.Option(help="Seconds after which a heartbeat is stale.")] = 15.0,
) -> None:
    """The service registry: instances with their address, labels, health, weight and heartbeat age."""
    from rich.table import Table

    from portico.adapters.aws import table_names
    from portico.adapters.dynamodb.registry_store import DynamoDbRegistryStore
    from portico.core.mesh.registry import is_fresh

    store = DynamoDbRegistryStore(table_names()["registry"])
    try:
        found = store.instances(service) if service else store.all_instances()
    except Exception as exc:  # botocore's errors are many; the message says which
        fail(f"cannot read the registry: {exc}", EXIT_UNAVAILABLE)
    now = time.time()
    table = Table("service", "instance", "address", "labels", "health", "weight", "heartbeat", "zone")
    shown = 0
    for inst in found:
        fresh = is_fresh(inst, now, stale_after)
        if not fresh and not all_:
            continue
        shown += 1
        health = inst.health if fresh else "STALE"
        colour = {"HEALTHY": "green", "DRAINING": "yellow"}.get(health, "red")
        table.add_row(
            inst.service,
            inst.instance_id,
            inst.authority,
            ",".join(f"{k}={v}" for k, v in sorted(inst.labels.items())),
            f"[{colour}]{health}[/{colour}]",
            str(inst.weight),
            f"{now - inst.heartbeat:.0f}s ago",
            inst.zone,
        )
    if shown == 0:
        out.print("no live instances" + (f" of {service}" if service else "") + " in the registry")
        return
    out.print(table)


def register(app: typer.Typer) -> None:
    # the flags are argparse's (portico.mesh.main): pass them all through, --help included
    app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []})(
        sidecar
    )
    app.command()(services)
