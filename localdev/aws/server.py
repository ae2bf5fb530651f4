"""The embedded local AWS: moto's dispatcher, serialised so DynamoDB's atomicity holds, served threaded."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import io
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
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
from localdev.aws.fastddb.handler import FastDynamoDb
from localdev.aws.front import Front

Environ = dict[str, Any]
StartResponse = Callable[..., Any]

# Lambda invocations may run a container that calls back into this endpoint (and can take seconds): holding
# the lock across them would deadlock or stall everything else, and they change no state needing atomicity.
_LAMBDA_INVOKE = re.compile(r"^/[0-9-]+/functions/[^/]+/(invocations|response-streaming-invocations)/?$")
_DYNAMODB_TARGET = "DynamoDB_20120810."
_STATUS = {200: "200 OK", 400: "400 Bad Request"}
FastResponse = tuple[str, list[tuple[str, str]], bytes]


class SerialisedDispatcher(DomainDispatcherApplication):
    """moto's host/target dispatcher that runs one request at a time, body included.

    moto's backends are plain Python objects without locking: two concurrent UpdateItem calls each read the
    item, change their copy and write it back, so one ADD or conditional write is lost. A single lock around
    the whole request (including draining the response iterable, where lazy bodies would otherwise still
    touch backend state) makes every operation atomic, as DynamoDB promises. Local traffic is light, so
    throughput is not a concern; the server stays threaded so a slow client only holds the lock while its
    request runs.
    """

    def __init__(self, fast: FastDynamoDb | None = None) -> None:
        super().__init__(create_backend_app)
        self._serial = threading.Lock()
        self._fast = fast

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        fast = self.answer_fast(environ, wait=True)
        if fast is not None:
            status, headers, payload = fast
            start_response(status, headers)
            return [payload]
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

    def answer_fast(self, environ: Environ, *, wait: bool = False) -> FastResponse | None:
        """`answer_parts` for a WSGI request (werkzeug's server); the body is put back for moto when None."""
        stream = environ["wsgi.input"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = stream.getvalue() if isinstance(stream, io.BytesIO) else stream.read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        headers = {
            "x-amz-target": environ.get("HTTP_X_AMZ_TARGET", ""),
            "authorization": environ.get("HTTP_AUTHORIZATION", ""),
            "content-encoding": environ.get("HTTP_CONTENT_ENCODING", ""),
        }
        return self.answer_parts(headers, body, wait=wait)

    def answer_parts(self, headers: Mapping[str, str], body: bytes, *, wait: bool = False) -> FastResponse | None:
        """The fast path's answer to a DynamoDB call, under the same lock as moto's; None: let moto answer.

        `headers` holds x-amz-target, authorization and content-encoding (lower-case names). With `wait=False`
        (the event loop) a held lock means None at once: the request then queues for a worker thread instead of
        stalling every connection behind a long moto call.
        """
        target = headers.get("x-amz-target", "")
        if self._fast is None or not target.startswith(_DYNAMODB_TARGET):
            return None
        if not self._serial.acquire(blocking=wait):
            return None
        try:
            response = self._fast.answer(target[len(_DYNAMODB_TARGET) :], headers, body)
        finally:
            self._serial.release()
        if response is None:
            return None
        status, response_headers, payload = response
        return _STATUS[status], response_headers, payload


def build_app(*, fast: bool = True) -> SerialisedDispatcher:
    """moto's dispatcher, serialised, with the DynamoDB fast path unless `fast` is False."""
    pca_fidelity.install()  # moto's Private CA ignores Validity/NotBefore; AWS does not (see the module)
    cfn_fidelity.install()  # moto cannot read a nested stack's outputs (GetAtt Stack.Outputs.X); AWS can
    return SerialisedDispatcher(FastDynamoDb() if fast else None)


def build_server(host: str, port: int, *, fast: bool = True) -> BaseWSGIServer:
    """The former server, kept for comparison in localdev.bench.dynamodb: threaded werkzeug, one thread a client."""
    server = make_server(host, port, build_app(fast=fast), threaded=True, request_handler=MotoRequestHandler)
    os.environ["MOTO_PORT"] = str(server.server_port)
    return server


def url_for(host: str, port: int) -> str:
    """The URL clients use; a wildcard bind is reached through loopback."""
    host = host if host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    return f"http://{host}:{port}"


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


def serve(
    host: str,
    port: int,
    *,
    ready_file: Path | None = None,
    parent_pid: int | None = None,
    http: str = "asyncio",
    fast: bool = True,
) -> None:
    """Bind, announce the URL (stdout and optionally `ready_file`), then serve until SIGTERM/SIGINT."""
    signal.signal(signal.SIGTERM, _stop_on_signal)
    if parent_pid is not None:
        threading.Thread(target=_exit_when_orphaned, args=(parent_pid,), daemon=True).start()

    def announce(bound: int) -> None:
        # moto builds callback URLs (e.g. presigned S3 URLs) from MOTO_PORT; it must be the port actually bound.
        os.environ["MOTO_PORT"] = str(bound)
        url = url_for(host, bound)
        print(f"portico local AWS listening on {url}", flush=True)
        if ready_file is not None:
            _write_atomically(ready_file, url)

    try:
        if http == "werkzeug":
            server = build_server(host, port, fast=fast)
            announce(server.server_port)
            try:
                server.serve_forever()
            finally:
                server.server_close()
        else:
            app = build_app(fast=fast)
            _settle_heap(fast)
            front = Front(app, app.answer_parts, host, port)
            try:
                _run_loop(_until_signalled(front.serve(announce)))
            finally:
                front.close()
    except KeyboardInterrupt:
        pass
    finally:
        sys.stdout.flush()


def _settle_heap(fast: bool) -> None:
    """Load what the DynamoDB path loads on first use, then take the startup heap out of the garbage collector.

    moto's modules, botocore's models and the backends are hundreds of thousands of objects that live as long as
    the process. Left in the collector's generations, each full collection walks all of them with the event loop
    stopped: measured 60-130 ms on a loaded machine, in the middle of a burst, so a quota check waiting on this
    endpoint missed its 100 ms budget and failed open. Frozen (gc.freeze), a full collection walks only what was
    created since: tables, items and whatever a later first call of another service loads.
    """
    if fast:
        from localdev.aws.fastddb.handler import moto_account, moto_backend

        moto_backend(moto_account("test"), os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    gc.collect()
    gc.freeze()


async def _until_signalled(serving: Coroutine[Any, Any, None]) -> None:
    """Serve until SIGTERM or SIGINT, registered with the loop itself.

    A plain `signal.signal` handler runs only when the interpreter gets control back, and an idle uvloop sits in
    epoll without waking for it: `terminate()` on an endpoint with no traffic then hung (seen in CI: the benchmark's
    `server.wait(timeout=10)` expired). The loop's own handler wakes the loop and cancels the serving task.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(serving)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _run_loop(main: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop  # libuv's loop: cheaper per read/write than asyncio's selector loop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)
