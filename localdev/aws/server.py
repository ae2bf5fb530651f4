"""The embedded local AWS: moto's dispatcher, serialised so DynamoDB's atomicity holds, served threaded."""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

from localdev.aws import cfn_fidelity, pca_fidelity

Environ = dict[str, Any]
StartResponse = Callable[..., Any]

# Lambda invocations may run a container that calls back into this endpoint (and can take seconds): holding
# the lock across them would deadlock or stall everything else, and they change no state needing atomicity.
_LAMBDA_INVOKE = re.compile(r"^/[0-9-]+/functions/[^/]+/(invocations|response-streaming-invocations)/?$")


class SerialisedDispatcher(DomainDispatcherApplication):
    """moto's host/target dispatcher that runs one request at a time, body included.

    moto's backends are plain Python objects without locking: two concurrent UpdateItem calls each read the
    item, change their copy and write it back, so one ADD or conditional write is lost. A single lock around
    the whole request (including draining the response iterable, where lazy bodies would otherwise still
    touch backend state) makes every operation atomic, as DynamoDB promises. Local traffic is light, so
    throughput is not a concern; the server stays threaded so a slow client only holds the lock while its
    request runs.
    """

    def __init__(self) -> None:
        super().__init__(create_backend_app)
        self._serial = threading.Lock()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        app = self.get_application(environ)
        if getattr(app, "service", None) == "lambda" and _LAMBDA_INVOKE.match(environ.get("PATH_INFO", "")):
            return app(environ, start_response)
        with self._serial:
            result = app(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        return [body]


def build_server(host: str, port: int) -> BaseWSGIServer:
    """A bound, threaded werkzeug server (port 0 picks a free port) serving the serialised dispatcher."""
    pca_fidelity.install()  # moto's Private CA ignores Validity/NotBefore; AWS does not (see the module)
    cfn_fidelity.install()  # moto cannot read a nested stack's outputs (GetAtt Stack.Outputs.X); AWS can
    app = SerialisedDispatcher()
    server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
    # moto builds callback URLs (e.g. presigned S3 URLs) from MOTO_PORT; it must be the port actually bound.
    os.environ["MOTO_PORT"] = str(server.server_port)
    return server


def url_of(server: BaseWSGIServer) -> str:
    """The URL clients use; a wildcard bind is reached through loopback."""
    host = server.host if server.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    return f"http://{host}:{server.server_port}"


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _exit_when_orphaned(parent_pid: int) -> None:
    """Exit once the process that started us is gone, so a killed test run leaves no server behind."""
    while os.getppid() == parent_pid:
        time.sleep(0.5)
    os._exit(0)


def _stop_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def serve(host: str, port: int, *, ready_file: Path | None = None, parent_pid: int | None = None) -> None:
    """Bind, announce the URL (stdout and optionally `ready_file`), then serve until SIGTERM/SIGINT."""
    server = build_server(host, port)
    url = url_of(server)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    if parent_pid is not None:
        threading.Thread(target=_exit_when_orphaned, args=(parent_pid,), daemon=True).start()
    print(f"portico local AWS listening on {url}", flush=True)
    if ready_file is not None:
        _write_atomically(ready_file, url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        sys.stdout.flush()
