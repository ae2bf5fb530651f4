"""e2e helpers: start Portico's local processes on free ports and stop every one of them afterwards."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "shared"), str(ROOT)])
    env["PYTHONUNBUFFERED"] = "1"
    return env


def wait_listening(proc: subprocess.Popen[bytes], log: Path, what: str, timeout: float = 30.0) -> str:
    """The address a started process announces with `listening on ADDRESS` in its log; raises if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if line.startswith("listening on "):
                return line.split()[-1]
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start (exit {proc.poll()}): {log.read_text()[-2000:]}")


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """spawn(module, *args, env=...) -> base URL; the process prints `listening on URL` when ready.

    Output goes to a file (a pipe nobody drains could block a chatty process).
    """
    with spawner(tmp_path) as start:
        yield start


@contextlib.contextmanager
def spawner(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """What `spawn` yields, for fixtures of a wider scope; every process started is stopped on exit."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(module: str, *args: str, env: dict[str, str] | None = None) -> str:
        log = tmp_path / f"{module}-{len(procs)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", module, "--port", "0", *args],
                cwd=ROOT,
                env={**_env(), **(env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        procs.append(proc)
        return wait_listening(proc, log, module)

    try:
        yield start
    finally:
        stop(procs)


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="session")
def pca_arn(local_aws: str) -> str:
    from localdev.dev.ca import ensure_root_ca
    from portico.adapters.aws import client

    return ensure_root_ca(client("acm-pca"))
