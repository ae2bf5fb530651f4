"""Start and stop the embedded local AWS as a child process; detect an AWS-like endpoint already answering."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from localdev.aws.env import local_environ

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4566
_REPO_ROOT = Path(__file__).resolve().parents[2]

# A DynamoDB ListTables call: every endpoint Portico can use (moto, LocalStack, DynamoDB Local) answers it,
# and an unrelated web server on the port will not. Local endpoints do not verify signatures, but they route
# by the credential scope in Authorization, so it names the service.
_PROBE_HEADERS = {
    "Content-Type": "application/x-amz-json-1.0",
    "X-Amz-Target": "DynamoDB_20120810.ListTables",
    "Authorization": (
        "AWS4-HMAC-SHA256 Credential=test/20200101/us-east-1/dynamodb/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-target, Signature=0"
    ),
}


class LocalAwsError(RuntimeError):
    """The embedded local AWS could not be started."""


@dataclass(frozen=True)
class LocalAws:
    """A running local AWS endpoint; `process` is None when it was already running and is not ours to stop."""

    url: str
    process: subprocess.Popen[bytes] | None
    log_path: Path | None = None

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


def endpoint_answers(url: str, timeout: float = 0.5) -> bool:
    """True when something AWS-like (answering DynamoDB ListTables) responds at `url` within `timeout` s."""
    request = urllib.request.Request(url.rstrip("/") + "/", data=b"{}", headers=_PROBE_HEADERS, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = json.loads(response.read(65536) or b"null")
    except (OSError, ValueError):  # refused, timed out, HTTP error status (URLError/HTTPError), not JSON
        return False
    return isinstance(payload, dict) and "TableNames" in payload


def start(
    port: int = 0,
    log_path: Path | str | None = None,
    *,
    host: str = DEFAULT_HOST,
    detach: bool = False,
    timeout: float = 30.0,
    switch_interval: float | None = None,
    fast_path: bool = True,
) -> LocalAws:
    """Spawn `python -m localdev.aws` and return once it answers (or raise LocalAwsError within `timeout`).

    port=0 lets the server bind a free port itself and report it back, so no other process can take the port
    between choosing and binding it. Unless `detach`, the server exits when this process dies, and shares its
    process group so Ctrl-C stops both; with `detach` it outlives us (for `portico dev up --detach`).
    `switch_interval` (seconds) makes the server's threads preempt each other often: a stress knob for tests.
    `fast_path=False` lets moto answer every DynamoDB call (tests prove the lock on moto's own path that way).
    """
    ready_dir = Path(tempfile.mkdtemp(prefix="portico-aws-"))
    ready_file = ready_dir / "url"
    command = [sys.executable, "-m", "localdev.aws", "--host", host, "--port", str(port)]
    command += ["--ready-file", str(ready_file), "--quiet"]
    if not detach:
        command += ["--parent-pid", str(os.getpid())]
    if switch_interval is not None:
        command += ["--switch-interval", repr(switch_interval)]
    if not fast_path:
        command += ["--no-fast-path"]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    log: IO[bytes] | int = open(log_path, "ab") if log_path is not None else subprocess.DEVNULL  # noqa: SIM115
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=_REPO_ROOT,
            start_new_session=detach,
        )
    finally:
        if not isinstance(log, int):
            log.close()  # the child holds its own descriptor
    handle_log = Path(log_path) if log_path is not None else None
    try:
        url = _await_ready(process, ready_file, timeout, handle_log)
    except BaseException:
        _terminate(process)
        raise
    finally:
        ready_file.unlink(missing_ok=True)
        ready_dir.rmdir()
    return LocalAws(url=url, process=process, log_path=handle_log)


def ensure(port: int = DEFAULT_PORT, log_path: Path | str | None = None, **kwargs: object) -> LocalAws:
    """Reuse whatever answers on `port` (LocalStack, an earlier run), else start the embedded one there."""
    url = f"http://{kwargs.get('host', DEFAULT_HOST)}:{port}"
    if port and endpoint_answers(url):
        return LocalAws(url=url, process=None)
    return start(port, log_path, **kwargs)  # type: ignore[arg-type]


@contextlib.contextmanager
def serving(
    log_path: Path | str | None = None,
    *,
    url: str | None = None,
    switch_interval: float | None = None,
    fast_path: bool = True,
) -> Iterator[str]:
    """Start a server on a free port (or use `url` as is), point os.environ at it, yield its URL.

    On exit the environment is restored exactly and a server we started is stopped.
    """
    handle = LocalAws(url, None) if url else start(0, log_path, switch_interval=switch_interval, fast_path=fast_path)
    try:
        with local_environ(handle.url):
            yield handle.url
    finally:
        stop(handle)


def stop(handle: LocalAws, timeout: float = 5.0) -> None:
    """Stop a server we started (SIGTERM, then SIGKILL after `timeout`); a reused endpoint is left running."""
    if handle.process is not None:
        _terminate(handle.process, timeout)


def _await_ready(process: subprocess.Popen[bytes], ready_file: Path, timeout: float, log: Path | None) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LocalAwsError(f"local AWS exited with code {process.returncode}{_tail(log)}")
        if ready_file.exists():
            url = ready_file.read_text(encoding="utf-8").strip()
            if endpoint_answers(url):
                return url
        time.sleep(0.05)
    raise LocalAwsError(f"local AWS did not answer within {timeout:.0f}s{_tail(log)}")


def _terminate(process: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


def _tail(log: Path | None, lines: int = 20) -> str:
    if log is None or not log.exists():
        return ""
    text = log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    return "; log tail:\n" + "\n".join(text)
