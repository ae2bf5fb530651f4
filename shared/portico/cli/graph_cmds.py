"""`portico graph`: the service dependency graph of a running mesh, from two scrapes of every sidecar's /stats.

Sidecars are found from `--admin` options, else from the run state of `portico dev up` (`.portico/state.json`,
key "sidecars"). Prints a table, writes an SVG image and a mermaid file.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from portico.cli.output import EXIT_UNAVAILABLE, err, fail, out
from portico.core.telemetry.graph import GraphEdge, build_graph, to_mermaid
from portico.core.telemetry.prometheus import ParseError, Sample, parse
from portico.core.telemetry.svg import to_svg

STATE = Path(".portico") / "state.json"


def dev_state_dir(start: Path | None = None) -> Path | None:
    """The `.portico` folder of a `dev up` run: the working directory or a parent holding .portico/state.json."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / STATE).is_file():
            return candidate / STATE.parent
    return None


def discover(state_dir: Path | None) -> dict[str, str]:
    """name -> admin base URL of each sidecar that `dev up` recorded."""
    if state_dir is None:
        return {}
    try:
        state = json.loads((state_dir / "state.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return {str(s["name"]): str(s["admin"]) for s in state.get("sidecars", []) if "name" in s and "admin" in s}


def scrape(admins: dict[str, str], timeout: float = 2.0) -> tuple[list[Sample], list[str]]:
    """Samples from every reachable sidecar, and a note for each one that was not."""
    samples: list[Sample] = []
    problems = []
    for name, base in sorted(admins.items()):
        try:
            with urllib.request.urlopen(base.rstrip("/") + "/stats", timeout=timeout) as resp:
                samples.extend(parse(resp.read().decode()))
        except (urllib.error.URLError, OSError, ParseError) as exc:
            problems.append(f"{name} ({base}): {getattr(exc, 'reason', exc)}")
    return samples, problems


def _table(edges: list[GraphEdge], interval: float) -> Table:
    table = Table(title=f"Service graph (rates over {interval:g}s)")
    for column in ("source", "destination", "rps", "errors", "p99 ms", "requests", "tcp conns", "tcp kB/s", "window"):
        table.add_column(column, justify="right" if column not in ("source", "destination", "window") else "left")
    for e in edges:
        p99 = f"{e.p99_ms:.1f}" if e.p99_ms is not None else "-"
        colour = "red" if e.error_rate >= 0.05 else "green"
        table.add_row(
            escape(e.source),
            escape(e.destination),
            f"{e.rps:.2f}",
            f"[{colour}]{e.error_rate * 100:.1f}%[/{colour}]",
            p99,
            f"{e.requests:g}",
            f"{e.tcp_connections:g}",
            f"{e.tcp_bytes_per_s / 1000:.1f}",
            e.window,
        )
    return table


def graph(
    admin: Annotated[
        list[str] | None, typer.Option("--admin", help="A sidecar admin address (host:port or URL); repeatable.")
    ] = None,
    interval: Annotated[float, typer.Option("--interval", min=0.1, help="Seconds between the two scrapes.")] = 5.0,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Path prefix for .svg and .mmd (default: .portico/graph).")
    ] = None,
) -> None:
    """Build the service dependency graph from the sidecars' /stats: rps, error rate and p99 per call edge."""
    state_dir = dev_state_dir()
    admins = {a: a if "://" in a else f"http://{a}" for a in admin} if admin else discover(state_dir)
    if not admins:
        fail("no sidecars to scrape: run `portico dev up`, or pass --admin host:port for each sidecar")
    before, problems = scrape(admins)
    if len(problems) == len(admins):
        fail("no sidecar answered on /stats:\n  " + "\n  ".join(problems), EXIT_UNAVAILABLE)
    time.sleep(interval)
    after, problems = scrape(admins)
    for problem in problems:
        err.print(f"[yellow]warning:[/yellow] not scraped: {escape(problem)}")
    edges = build_graph(before, after, interval)
    out.print(_table(edges, interval))
    if not edges:
        out.print("no calls recorded yet; send some traffic through the sidecars and run it again")
    prefix = output or ((state_dir or Path.cwd() / ".portico") / "graph")
    prefix.parent.mkdir(parents=True, exist_ok=True)
    svg, mermaid = Path(f"{prefix}.svg"), Path(f"{prefix}.mmd")
    svg.write_text(to_svg(edges))
    mermaid.write_text(to_mermaid(edges))
    out.print(f"image:   {svg}\nmermaid: {mermaid}")


def register(app: typer.Typer) -> None:
    app.command(name="graph")(graph)
