"""Runs the local stack: each component in order, then prints what to try and waits for Ctrl-C."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType, ModuleType

from localdev.dev import aws, ca, edge, grpc, issuer, mesh, seed, tcp
from localdev.dev.failopen import FailOpenWatch
from localdev.dev.run import DevRun, stop_pids

# The order matters: the AWS endpoint and tables first, then the private CA and config, then what serves traffic.
# grpc comes before seed: it builds the descriptor set that the demo gRPC routes name.
COMPONENTS: list[ModuleType] = [aws, ca, issuer, grpc, seed, edge, tcp, mesh]


def _state_dir(root: Path) -> Path:
    path = root / ".portico"
    path.mkdir(exist_ok=True)
    return path


def run_up(root: Path, *, detach: bool) -> int:
    state = _state_dir(root)
    if (state / "state.json").exists():
        down_first = json.loads((state / "state.json").read_text()).get("processes", [])
        stop_pids([p["pid"] for p in down_first])
    env = {**os.environ, "PORTICO_ALLOW_LOOPBACK_UPSTREAMS": "true", "PYTHONUNBUFFERED": "1"}
    # The checkout's own package first: every process of the stack runs this checkout's code, whichever `portico`
    # started it (an installed copy would otherwise drift from the checkout's localdev/).
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root / "shared"), str(root), env.get("PYTHONPATH")]))
    run = DevRun(root=root, env=env, state_dir=state)
    # Ctrl-C, SIGTERM and a closed terminal all stop the stack through the `finally` below, never around it. SIGINT
    # is set explicitly: a shell starting us in the background leaves it ignored, and `kill -INT` must still work.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:  # under nohup, a hangup is meant to be ignored
        signal.signal(signal.SIGHUP, _interrupt)
    current = "dev up"
    keep_running = False
    try:
        for component in COMPONENTS:
            current = component.__name__
            component.start(run)
        _write_env(run)
        _print_summary(run)
        if detach:
            keep_running = True
            _say("\nRunning in the background; stop it with: portico dev down")
            return 0
        _wait(run)
        return 0
    except KeyboardInterrupt:  # Ctrl-C is how a user asks the stack to stop: a success
        return 0
    except Exception as exc:  # a failed start must not leave half a stack running
        _say(f"dev up failed in {current}: {exc}", err=True)
        return 1
    finally:
        if not keep_running:
            _say("\nStopping...")
            run.stop_all()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _say(text: str, *, err: bool = False) -> None:
    """Print, tolerating a closed stdout (`make dev | tee` loses its tee on Ctrl-C): cleanup must still run."""
    with contextlib.suppress(OSError, ValueError):
        print(text, file=sys.stderr if err else sys.stdout, flush=True)


def _write_env(run: DevRun) -> None:
    keys = ["AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_DEFAULT_REGION"]
    keys += sorted(k for k in run.env if k.startswith("PORTICO_"))
    lines = [f"export {k}={run.env[k]}" for k in keys if k in run.env]
    # where this `portico` is installed: the checkout's own .venv under `make dev`, the shared one from a worktree
    lines.append(f"export PATH={Path(sys.executable).parent}:$PATH")
    (run.state_dir / "env").write_text("\n".join(lines) + "\n")


def _print_summary(run: DevRun) -> None:
    lines = ["\nPortico is running locally."]
    lines += [f"  {key:<14} {value}" for key, value in run.facts.items()]
    lines += [f"  {'logs':<14} {run.log_dir}/", "\nTry, in another shell:"]
    lines += [f"  source {run.state_dir / 'env'}     # then `portico --help`", "  portico get route"]
    for section, hints in run.ordered_hints():
        lines += [f"\n  # {section}", *(f"  {hint}" for hint in hints)]
    _say("\n".join(lines))


def _wait(run: DevRun) -> None:
    """Watch the processes until Ctrl-C (or SIGTERM/SIGHUP) raises KeyboardInterrupt in here."""
    _say("\nPress Ctrl-C to stop.")
    reported: set[str] = set()
    fail_open = FailOpenWatch(run.log_dir / "frontdoor.log")
    ticks = 0
    while True:
        for name, proc in run.processes:
            if proc.poll() is not None and name not in reported:
                reported.add(name)
                _say(f"warning: {name} exited with {proc.returncode}; see {run.log_dir / (name + '.log')}")
        ticks += 1
        if ticks % 10 == 0 and (line := fail_open.poll(time.monotonic())):
            _say(line)
        time.sleep(0.2)


def run_down(root: Path) -> int:
    state_file = _state_dir(root) / "state.json"
    if not state_file.exists():
        print("nothing is running")
        return 0
    processes = json.loads(state_file.read_text()).get("processes", [])
    stop_pids([p["pid"] for p in reversed(processes)])
    state_file.unlink()
    print(f"stopped {len(processes)} process(es)")
    return 0
