"""`portico dev up` plumbing: a fixed port someone else holds stops the start; the env file finds `portico`."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from localdev.dev.run import DevRun
from localdev.dev.up import _write_env

pytestmark = pytest.mark.e2e


def test_a_port_held_by_another_stack_stops_the_start_before_anything_is_spawned(tmp_path: Path) -> None:
    holder = socket.create_server(("127.0.0.1", 0))  # another stack's server, answering on "our" fixed port
    port = holder.getsockname()[1]
    run = DevRun(root=tmp_path, env={}, state_dir=tmp_path)
    try:
        with pytest.raises(RuntimeError, match=f"127.0.0.1:{port} is already in use"):
            run.spawn("echo-a", [sys.executable, "-c", "pass"], ready_url=f"http://127.0.0.1:{port}/__stats")
        with pytest.raises(RuntimeError, match="already in use"):
            run.spawn("grpc-library", [sys.executable, "-c", "pass"], port=port)
    finally:
        holder.close()
    assert run.processes == []


def test_the_env_file_puts_the_running_portico_on_path(tmp_path: Path) -> None:
    run = DevRun(root=tmp_path, env={"PORTICO_CONFIG_TABLE": "t"}, state_dir=tmp_path)
    _write_env(run)
    lines = (tmp_path / "env").read_text().splitlines()
    assert f"export PATH={Path(sys.executable).parent}:$PATH" in lines
    assert "export PORTICO_CONFIG_TABLE=t" in lines
