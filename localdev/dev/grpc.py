"""Dev component: builds the demo descriptor set and serves the demo gRPC Library on 127.0.0.1:18090.

It runs before `seed`, because the demo routes (localdev/demo/config/grpc.yaml) name the descriptor set it builds.
The Library also joins the mesh as service `library` behind its own sidecar (app port declared `grpc`, admin
15170, outbound 15171, inbound 15172): any app's sidecar carries gRPC calls to it over mTLS (HTTP/2, ALPN h2).
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

from localdev.dev.mesh import ORDERS
from localdev.dev.run import DevRun

GRPC_PORT = 18090  # localdev/demo/config/grpc.yaml points its routes here
FRONT_DOOR = "http://127.0.0.1:8080"  # served by the edge component


SECTION = "REST/JSON to gRPC"
MESH_SECTION = "gRPC through the mesh: orders' sidecar -> mTLS (HTTP/2) -> library's sidecar -> grpcio"
LIBRARY_ADMIN = 15170  # outbound = admin + 1, inbound = admin + 2, as the other demo sidecars
ORDERS_OUTBOUND = ORDERS.admin_port + 1  # orders' sidecar (localdev/dev/mesh.py)


def start(run: DevRun) -> None:
    from localdev.grpc.build import build

    build()
    argv = [sys.executable, "-m", "localdev.grpc.server", "--port", str(GRPC_PORT)]
    proc = run.spawn("grpc-library", argv, port=GRPC_PORT)  # grpc binds with SO_REUSEPORT: check it is free
    _wait_listening(GRPC_PORT, lambda: proc.poll() is not None, run.log_dir / "grpc-library.log")
    run.facts["gRPC demo"] = f"127.0.0.1:{GRPC_PORT} (portico.demo.v1.Library)"
    _library_sidecar(run)
    base = FRONT_DOOR
    run.hint(f"curl -s '{base}/v1/shelves/fiction/books/1?view=BASIC'   # REST GET -> gRPC GetBook", SECTION)
    run.hint(
        f'curl -s -X POST {base}/v1/shelves/fiction/books -d \'{{"title":"Neuromancer","pageCount":271}}\'', SECTION
    )
    run.hint(f"curl -s {base}/v1/shelves/fiction/books          # server-streaming ListBooks as a JSON array", SECTION)
    run.hint(f"curl -s {base}/v1/shelves/fiction/books.ndjson   # the same stream as NDJSON", SECTION)
    run.hint(f"curl -si {base}/v1/errors/NOT_FOUND             # gRPC status -> 404 problem+json", SECTION)
    run.hint(
        f'curl -si -X POST {base}/v1/shelves/fiction/books -d \'{{"pageCount":"many"}}\'  # 400 names the field',
        SECTION,
    )


def _library_sidecar(run: DevRun) -> None:
    name = "library-v1"
    sidecar = [sys.executable, "-m", "portico", "sidecar", "--service", "library", "--app-port", str(GRPC_PORT)]
    sidecar += ["--app-protocol", "grpc", "--labels", "version=v1", "--instance-id", name]
    sidecar += ["--admin-port", str(LIBRARY_ADMIN), "--outbound-port", str(LIBRARY_ADMIN + 1)]
    sidecar += ["--inbound-port", str(LIBRARY_ADMIN + 2)]
    run.spawn(
        f"sidecar-{name}",
        sidecar,
        env={"PORTICO_HEARTBEAT_INTERVAL": "2"},
        ready_url=f"http://127.0.0.1:{LIBRARY_ADMIN}/ready",
    )
    run.sidecar(name, f"http://127.0.0.1:{LIBRARY_ADMIN}", log=f"sidecar-{name}")
    run.facts["gRPC in the mesh"] = f"service library (grpc) behind its sidecar on {LIBRARY_ADMIN}-{LIBRARY_ADMIN + 2}"
    run.hint(
        f"python -m localdev.grpc.mesh_call --via 127.0.0.1:{ORDERS_OUTBOUND}     # unary, server-streaming and a "
        "failing call from orders' sidecar to library's",
        MESH_SECTION,
    )
    run.hint(
        "printf '\\0\\0\\0\\0\\0' > /tmp/echo.grpc && h2load -n 2000 -c 2 -m 8 -d /tmp/echo.grpc "
        "-H ':authority: library' -H 'content-type: application/grpc' -H 'te: trailers' "
        f"http://127.0.0.1:{ORDERS_OUTBOUND}/portico.demo.v1.Library/Echo     # load, HTTP/2 on every hop",
        MESH_SECTION,
    )
    run.hint(
        f"curl -s http://127.0.0.1:{ORDERS_OUTBOUND - 1}/stats | grep 'service=\"library\"'     # gRPC calls counted",
        MESH_SECTION,
    )


def _wait_listening(port: int, exited: Callable[[], bool], log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if exited():
            raise RuntimeError(f"the demo gRPC server exited; see {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the demo gRPC server did not listen on {port} within {timeout:.0f}s; see {log}")
