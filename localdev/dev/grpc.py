"""Dev component: builds the demo descriptor set and serves the demo gRPC Library on 127.0.0.1:18090.

It runs before `seed`, because the demo routes (localdev/demo/config/grpc.yaml) name the descriptor set it builds.
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

from localdev.dev.run import DevRun

GRPC_PORT = 18090  # localdev/demo/config/grpc.yaml points its routes here
FRONT_DOOR = "http://127.0.0.1:8080"  # served by the edge component


SECTION = "REST/JSON to gRPC"


def start(run: DevRun) -> None:
    from localdev.grpc.build import build

    build()
    argv = [sys.executable, "-m", "localdev.grpc.server", "--port", str(GRPC_PORT)]
    proc = run.spawn("grpc-library", argv, port=GRPC_PORT)  # grpc binds with SO_REUSEPORT: check it is free
    _wait_listening(GRPC_PORT, lambda: proc.poll() is not None, run.log_dir / "grpc-library.log")
    run.facts["gRPC demo"] = f"127.0.0.1:{GRPC_PORT} (portico.demo.v1.Library)"
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
