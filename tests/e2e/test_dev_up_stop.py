"""`portico dev up` stops every process it started on Ctrl-C or SIGTERM, even when its stdout pipe is gone.

`make dev | tee log` loses tee to the same Ctrl-C, so printing "Stopping..." fails; the stack must still stop.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = """
import sys
from pathlib import Path
from localdev.dev import up

class Sleeper:
    __name__ = "sleeper"

    @staticmethod
    def start(run):
        run.spawn("sleeper", [sys.executable, "-c", "import time; time.sleep(120)"])
        run.hint("nothing to try")

up.COMPONENTS = [Sleeper]
sys.exit(up.run_up(Path(sys.argv[1]), detach=False))
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a shell does for a job started in the background (CI may)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_the_stack_stops_even_when_stdout_is_gone(tmp_path: Path, signum: int) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "shared"), str(REPO)])}
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_ignore_sigint,
    )
    state = tmp_path / ".portico" / "state.json"
    deadline = time.monotonic() + 20
    while not state.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    child = json.loads(state.read_text())["processes"][0]["pid"]
    assert _alive(child)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader (tee) is gone: every later print hits a broken pipe
    proc.stderr.close()
    time.sleep(0.5)
    proc.send_signal(signum)
    try:
        assert proc.wait(timeout=20) == 0
    finally:  # whatever happened, leave nothing running
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        if _alive(child):
            os.kill(child, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "dev up left a process running"
    assert not state.exists()
