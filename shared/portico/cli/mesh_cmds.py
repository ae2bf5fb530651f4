"""`portico sidecar` (run the mesh sidecar) and `portico services` (the registry as a table)."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import random
import time
from typing import Annotated

import typer

from portico.cli.output import EXIT_UNAVAILABLE, fail, out


def sidecar(
    service: Annotated[str | None, typer.Option("--service", help="This instance's service name.")] = None,
    app_port: Annotated[int | None, typer.Option("--app-port", help="The local app's port on 127.0.0.1.")] = None,
    labels: Annotated[str | None, typer.Option("--labels", help="k=v,k2=v2 (subsets select on these).")] = None,
    inbound_port: Annotated[int | None, typer.Option("--inbound-port", help="Default 15443.")] = None,
    outbound_port: Annotated[int | None, typer.Option("--outbound-port", help="Default 15001.")] = None,
    admin_port: Annotated[int | None, typer.Option("--admin-port", help="Default 15000.")] = None,
    address: Annotated[str | None, typer.Option("--address", help="Address peers dial (ECS metadata wins).")] = None,
    instance_id: Annotated[
        str | None, typer.Option("--instance-id", help="Default: ECS task id, or generated.")
    ] = None,
    config_file: Annotated[
        str | None, typer.Option("--config-file", help="Read VirtualService/DestinationRule YAML instead of the table.")
    ] = None,
) -> None:
    """Run the mesh sidecar for one app instance (PORTICO_* environment variables mirror every flag)."""
    from portico.mesh.settings import resolve

    logging.basicConfig(level=os.environ.get("PORTICO_LOG_LEVEL", "INFO"), format="%(asctime)s %(name)s %(message)s")
    try:
        settings = resolve(
            service=service,
            app_port=app_port,
            labels=labels,
            inbound_port=inbound_port,
            outbound_port=outbound_port,
            admin_port=admin_port,
            address=address,
            instance_id=instance_id,
            config_file=config_file,
        )
    except ValueError as exc:
        fail(str(exc))
    raise typer.Exit(_run_sidecar(settings))


def _run_sidecar(settings: object) -> int:
    from dataclasses import replace
    from pathlib import Path

    from portico.adapters.aws import client as aws_client
    from portico.adapters.aws import table_names
    from portico.adapters.dynamodb.config_store import DynamoDbConfigStore
    from portico.adapters.dynamodb.registry_store import DynamoDbRegistryStore
    from portico.adapters.ecs_metadata import read_task_metadata
    from portico.adapters.file_config_store import FileConfigStore
    from portico.core.ports import CertSourceError, ConfigStore
    from portico.mesh.settings import SidecarSettings
    from portico.mesh.sidecar import Sidecar

    assert isinstance(settings, SidecarSettings)
    metadata_uri = os.environ.get("ECS_CONTAINER_METADATA_URI_V4")
    if metadata_uri:
        try:
            meta = read_task_metadata(metadata_uri)
        except (OSError, ValueError) as exc:
            fail(f"cannot read ECS task metadata from {metadata_uri}: {exc}", EXIT_UNAVAILABLE)
        settings = replace(settings, address=meta.address, zone=meta.zone, instance_id=meta.task_id)
    names = table_names()
    ddb = aws_client("dynamodb", timeout=2.0, retries=2)  # one client for both tables: each costs ~12 MiB
    config: ConfigStore = (
        FileConfigStore([Path(settings.config_file)])
        if settings.config_file
        else DynamoDbConfigStore(names["config"], client=ddb)
    )
    seed = os.environ.get("PORTICO_SEED")  # reproducible weighted/fault/balancer choices for tests and benchmarks
    rng = random.Random(int(seed)) if seed else random.Random()
    from portico.mesh.identity import mesh_identity, resolve_identity

    try:  # inbound mTLS is not optional: without a certificate source the sidecar does not start
        identity = mesh_identity(resolve_identity(settings.service))
    except ValueError as exc:
        fail(str(exc))
    from portico.adapters.telemetry import BatchedJsonLines

    side = Sidecar(
        settings,
        DynamoDbRegistryStore(names["registry"], client=ddb),
        config,
        rng=rng,
        identity=identity,
        access_log=BatchedJsonLines() if settings.access_log else None,  # one JSON line per request on stdout
        emf_write=print_line if settings.emf_namespace else None,
    )

    async def main() -> None:
        await side.start()
        # Start-up objects (config models, botocore's service model) live for the whole process: moving them out
        # of the collector's view keeps full collections short, which keeps latency tails short.
        gc.collect()
        gc.freeze()
        _return_free_memory()
        await side.serve_until_signal()

    try:
        import uvloop

        uvloop.run(main())
    except (OSError, CertSourceError) as exc:
        fail(f"sidecar could not start: {exc}", EXIT_UNAVAILABLE)
    return 0


def print_line(line: str) -> None:
    print(line, flush=True)


def _return_free_memory() -> None:
    """Hand the heap that imports and config validation left free back to the OS (glibc keeps it otherwise)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(name).malloc_trim(0)


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
    app.command()(sidecar)
    app.command()(services)
