"""Benchmark plumbing: install the load generator, run wrk and parse it, read a process's CPU time and RSS."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def ensure_wrk() -> str:
    """wrk from Debian (written in C, so the load generator is not what we measure). Installed when missing."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("wrk is missing: run `sudo apt-get install -y wrk` and try again")
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    return shutil.which("wrk") or "wrk"


@dataclass(frozen=True)
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def run_wrk(url: str, *, host: str | None, connections: int, seconds: float, threads: int = 1) -> WrkResult:
    seconds = max(1, round(seconds))  # wrk takes whole seconds only
    cmd = [ensure_wrk(), f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if host:
        cmd[1:1] = ["-H", f"Host: {host}"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=seconds + 30).stdout
    pct = {
        m.group(1): float(m.group(2)) * _UNITS[m.group(3)]
        for m in re.finditer(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    }
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(bad.group(1)) if bad else 0) + (sum(int(g) for g in sock.groups()) if sock else 0)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return WrkResult(rps, pct["50"], pct["99"], total, errors)


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    """Resident MiB; field="RssAnon" gives private memory only, "RssFile" the mapped files (binaries, libraries)."""
    with open(f"/proc/{pid}/status") as f:
        kib = next(int(line.split()[1]) for line in f if line.startswith(f"{field}:"))
    return kib / 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(
    url: str, host: str | None = None, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        req = urllib.request.Request(url, headers={"Host": host} if host else {})
        try:
            with urllib.request.urlopen(req, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f}s")


def established(port: int) -> int:
    """TCP connections in ESTABLISHED state whose local port is `port` (from /proc/net/tcp*): a listener's pool size."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        count += 1
        except FileNotFoundError:
            continue
    return count


@contextlib.contextmanager
def quiet_telemetry() -> Iterator[Any]:
    """Edge telemetry formatted as in production but written to /dev/null, so timing includes it, not the terminal."""
    from portico.adapters.telemetry import json_lines, powertools_access_log
    from portico.edge.telemetry import EdgeTelemetry

    with open(os.devnull, "w") as sink:
        yield EdgeTelemetry(access_log=powertools_access_log("bench", sink), metrics=json_lines(sink))


def print_rows(rows: list[tuple[str, str, str]], value_width: int = 12) -> None:
    """The benchmarks' result table: measure, value, ratio."""
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  {'value':>{value_width}}  ratio")
    for name, value, ratio in rows:
        print(f"{name.ljust(width)}  {value:>{value_width}}  {ratio}")


def report_ratios(
    name: str,
    runs: list[dict[str, Any]],
    ratios: Callable[[dict[str, Any]], dict[str, float]],
    header: str,
    targets: dict[str, str],
    out: Path | None,
    logs: Path,
) -> None:
    """Print the median of each portico/peer ratio over `runs` (with every run's figure and the ratio's target),
    and write the raw runs to `out` (default localdev/bench/results/NAME-TIME.json)."""
    import json
    import statistics

    all_ratios = [ratios(r) for r in runs]
    median = {k: statistics.median(r[k] for r in all_ratios) for k in all_ratios[0]}
    print(f"\n{header}; {os.cpu_count()} cores shared by all processes")
    width = max(len(k) for k in median)
    for k, v in median.items():
        target = f" ({targets[k]})" if k in targets else ""
        each = ", ".join(f"{r[k]:.2f}" for r in all_ratios)
        print(f"  median portico/envoy {k:<{width}} {v:6.2f}{target}  runs: {each}")
    if out is None:
        folder = Path(__file__).resolve().parent / "results"
        folder.mkdir(parents=True, exist_ok=True)
        out = folder / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"runs": runs, "ratios": all_ratios, "median": median}, indent=2))
    print(f"raw results: {out}; process logs in {logs}")
