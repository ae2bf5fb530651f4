"""`portico sidecar`: the sidecar's entry point, started without the CLI's typer/rich stack; what it runs is
assembled by the sidecar's composition root (portico.mesh.root).

The `portico` console script hands `sidecar` straight here (portico.cli.launch), so what the process imports is
what it runs: argparse for the flags, the mesh, and the small AWS JSON client. Everything heavy that is only
needed at start-up (parsing flags, reading ECS metadata) is freed before the process settles (gc.freeze,
malloc_trim), and certificates are made in a child process (certworker), so `cryptography` is never loaded.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from portico.mesh.settings import SidecarSettings, resolve

if TYPE_CHECKING:
    from portico.mesh.sidecar import Sidecar

EXIT_INVALID = 1  # the CLI's exit codes (portico.cli.output)
EXIT_UNAVAILABLE = 3


class StartError(Exception):
    """The sidecar cannot start; the message says why, the code is the process's exit code."""

    def __init__(self, message: str, code: int = EXIT_INVALID) -> None:
        super().__init__(message)
        self.code = code


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="portico sidecar",
        description="Run the mesh sidecar for one app instance (PORTICO_* environment variables mirror every flag).",
    )
    p.add_argument("--service", help="This instance's service name.")
    p.add_argument("--app-port", type=int, help="The local app's port on 127.0.0.1.")
    p.add_argument("--labels", help="k=v,k2=v2 (subsets select on these).")
    p.add_argument("--inbound-port", type=int, help="Default 15443.")
    p.add_argument("--outbound-port", type=int, help="Default 15001.")
    p.add_argument("--admin-port", type=int, help="Default 15000.")
    p.add_argument("--address", help="Address peers dial (ECS metadata wins).")
    p.add_argument("--instance-id", help="Default: ECS task id, or generated.")
    p.add_argument("--config-file", help="Read VirtualService/DestinationRule YAML instead of the table.")
    p.add_argument(
        "--app-protocol", help="What the app speaks on --app-port: auto (default), http, http2, grpc, tcp, tls."
    )
    p.add_argument("--app-ports", help="More app ports: PORT=PROTOCOL,... e.g. 9000=tcp (docs/mesh-protocols.md).")
    p.add_argument("--tcp-upstreams", help="Local TCP listeners to mesh services: [LOCAL=]SERVICE:PORT[/tls],...")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the flags, run the sidecar until SIGTERM has drained it; the exit code (errors go to stderr)."""
    args = parser().parse_args(argv)
    logging.basicConfig(level=os.environ.get("PORTICO_LOG_LEVEL", "INFO"), format="%(asctime)s %(name)s %(message)s")
    try:
        settings = resolve(
            service=args.service,
            app_port=args.app_port,
            labels=args.labels,
            inbound_port=args.inbound_port,
            outbound_port=args.outbound_port,
            admin_port=args.admin_port,
            address=args.address,
            instance_id=args.instance_id,
            config_file=args.config_file,
            app_protocol=args.app_protocol,
            app_ports=args.app_ports,
            tcp_upstreams=args.tcp_upstreams,
        )
    except ValueError as exc:
        return _error(str(exc), EXIT_INVALID)
    try:
        run(settings)
    except StartError as exc:
        return _error(str(exc), exc.code)
    return 0


def _error(message: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr, flush=True)
    return code


def run(settings: SidecarSettings) -> None:
    """Build the sidecar from its settings (portico.mesh.root) and serve until drained. Raises StartError when it
    cannot start."""
    from portico.mesh.root import build, mesh_identity_for

    settings = _with_task_metadata(settings)
    try:  # inbound mTLS is not optional: without a certificate source the sidecar does not start
        identity = mesh_identity_for(settings)
    except ValueError as exc:
        raise StartError(str(exc)) from exc
    serve(build(settings, identity))


GC_YOUNG_THRESHOLD = 10_000


def serve(side: Sidecar) -> None:
    """Start the sidecar and serve until SIGTERM has drained it; StartError when it cannot start."""
    import uvloop

    from portico.core.ports import CertSourceError

    async def main() -> None:
        await side.start()
        # Start-up objects (config models, parsed flags) live for the whole process: moving them out of the
        # collector's view keeps full collections short, which keeps latency tails short.
        gc.collect()
        gc.freeze()
        # Each call allocates a few hundred container objects (frames, events, futures), nearly all freed by their
        # reference counts; at the default 700 allocations a young collection ran every few calls, ~36 us of CPU
        # per gRPC call across a sidecar pair (measured with gc.callbacks). 10,000 keeps the same cycle cleanup
        # for a fraction of the collections (full ones still every 100 young ones).
        gc.set_threshold(GC_YOUNG_THRESHOLD, 10, 10)
        return_free_memory()
        await side.serve_until_signal()

    try:
        uvloop.run(main())
    except (OSError, CertSourceError) as exc:
        raise StartError(f"sidecar could not start: {exc}", EXIT_UNAVAILABLE) from exc


def _with_task_metadata(settings: SidecarSettings) -> SidecarSettings:
    """On ECS the task metadata endpoint decides address, zone and instance id; unreadable means do not start."""
    metadata_uri = os.environ.get("ECS_CONTAINER_METADATA_URI_V4")
    if not metadata_uri:
        return settings
    from portico.adapters.ecs_metadata import read_task_metadata

    try:
        meta = read_task_metadata(metadata_uri)
    except (OSError, ValueError) as exc:
        raise StartError(f"cannot read ECS task metadata from {metadata_uri}: {exc}", EXIT_UNAVAILABLE) from exc
    return replace(settings, address=meta.address, zone=meta.zone, instance_id=meta.task_id)


def return_free_memory() -> None:
    """Hand the heap that imports and config validation left free back to the OS (glibc keeps it otherwise)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):  # glibc only; musl has no malloc_trim and needs none
        ctypes.CDLL(None).malloc_trim(0)
