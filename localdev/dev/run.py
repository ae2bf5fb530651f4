"""The state of one `dev up`: the processes it started, their logs, and the hints it prints."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

OBSERVABILITY = "logs, stats and the service graph"


@dataclass
class DevRun:
    """Components call `spawn` and `hint`; run state lives in `<repo>/.portico/` (git-ignored)."""

    root: Path
    env: dict[str, str]
    state_dir: Path
    processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    hints: dict[str, list[str]] = field(default_factory=dict)  # section -> lines, printed in this order
    facts: dict[str, str] = field(default_factory=dict)
    sidecars: dict[str, str] = field(default_factory=dict)  # name -> admin URL, read back by `portico graph`

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    def spawn(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str] | None = None,
        ready_url: str | None = None,
        port: int | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start a process in its own session with its output in logs/<name>.log, and wait until it is ready.

        The fixed port it will listen on (`port`, else `ready_url`'s) must be free first: otherwise another stack
        (a `dev up` from another checkout, say) would answer the readiness check while ours failed to bind.
        """
        fixed = port if port is not None else urlsplit(ready_url).port if ready_url else None
        if fixed is not None and listening(fixed):
            raise RuntimeError(
                f"{name}: 127.0.0.1:{fixed} is already in use; another `portico dev up` (perhaps from another "
                "checkout) or another program holds it. Stop it first (`portico dev down` where it was started)"
            )
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            argv,
            cwd=self.root,
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.processes.append((name, proc))
        self._save()
        if ready_url is not None:
            wait_ready(ready_url, proc, name, self.log_dir / f"{name}.log")
        return proc

    def hint(self, text: str, section: str = "general") -> None:
        """A "what to try" line, printed under its section's heading."""
        self.hints.setdefault(section, []).append(text)

    def logs_hint(self, name: str, what: str) -> None:
        """Say where a process' log lines can be read (each process writes logs/<name>.log)."""
        self.hint(f"tail -f {self.log_dir / (name + '.log')}     # {what}", OBSERVABILITY)

    def sidecar(self, name: str, admin_url: str, log: str | None = None) -> None:
        """Record a sidecar's admin endpoint (for `portico graph`) and say where its stats and logs are."""
        self.sidecars[name] = admin_url
        self._save()
        log_file = self.log_dir / f"{log or 'sidecar-' + name}.log"
        self.hint(
            f"curl -s {admin_url}/stats     # {name}: Prometheus stats; JSON access log in {log_file}", OBSERVABILITY
        )

    def ordered_hints(self) -> list[tuple[str, list[str]]]:
        """Sections in the order components added them, observability last, with `portico graph` closing it."""
        sections = [(k, v) for k, v in self.hints.items() if k != OBSERVABILITY]
        tail = list(self.hints.get(OBSERVABILITY, []))
        if self.sidecars:
            tail.append("portico graph     # the service graph from every sidecar's /stats (table, SVG, mermaid)")
        return sections + ([(OBSERVABILITY, tail)] if tail else [])

    def _save(self) -> None:
        state = {
            "processes": [{"name": n, "pid": p.pid} for n, p in self.processes],
            "sidecars": [{"name": n, "admin": url} for n, url in self.sidecars.items()],
        }
        (self.state_dir / "state.json").write_text(json.dumps(state, indent=2))

    def stop_all(self) -> None:
        stop_pids([p.pid for _, p in reversed(self.processes)])
        for _, proc in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=1)
        (self.state_dir / "state.json").unlink(missing_ok=True)


def listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_ready(url: str, proc: subprocess.Popen[bytes], name: str, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}; see {log}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError as answered:
            answered.close()  # it answered, with any status; the error holds the connection's socket
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise RuntimeError(f"{name} did not answer {url} within {timeout:.0f}s; see {log}")


def stop_pids(pids: list[int], grace: float = 5.0) -> None:
    """SIGTERM each process group (so sidecars drain), then SIGKILL what is left after `grace` seconds."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for pid in pids:
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as gone
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True
