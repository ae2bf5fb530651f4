"""Finds the deploy toolchain: the tools venv (SAM CLI, cfn-lint, checkov, hadolint) and the runtime's Python.

The tools live in their own venv (`make tools`) because the SAM CLI pins boto3 and pydantic versions that must
not leak into the product venv. There is no Docker here, so `sam build` needs a local interpreter matching the
Lambda runtime; it is found on PATH or through pyenv, never at a fixed path.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class ToolError(RuntimeError):
    """A tool the deploy needs is missing; the message says how to get it."""


def tools_venv() -> Path:
    """The tools venv: $PORTICO_TOOLS_VENV, else .venv-tools at the repository root."""
    return Path(os.environ.get("PORTICO_TOOLS_VENV") or REPO / ".venv-tools")


def tool(name: str) -> Path:
    """An executable from the tools venv (`sam`, `cfn-lint`, `checkov`, `hadolint`, `python`)."""
    path = tools_venv() / "bin" / name
    if not path.exists():
        hint = "run `make tools` (`make test` does it first)"
        raise ToolError(f"{name} is not installed in {tools_venv()}: {hint}")
    return path


def _runs_as(executable: str, version: str) -> bool:
    try:
        out = subprocess.run(
            [executable, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return False
    return out.returncode == 0 and out.stdout.strip() == version


def _from_pyenv(version: str) -> Path | None:
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return None
    listed = subprocess.run([pyenv, "versions", "--bare"], capture_output=True, text=True, check=False).stdout
    pattern = re.compile(rf"^{re.escape(version)}(\.\d+)?$")
    matches = sorted(
        (v.strip() for v in listed.splitlines() if pattern.match(v.strip())),
        key=lambda v: [int(part) for part in v.split(".")],
    )
    for candidate in reversed(matches):
        prefix = subprocess.run([pyenv, "prefix", candidate], capture_output=True, text=True, check=False)
        exe = Path(prefix.stdout.strip()) / "bin" / f"python{version}"
        if prefix.returncode == 0 and _runs_as(str(exe), version):
            return exe
    return None


def runtime_interpreter(runtime: str) -> Path:
    """A working interpreter for a Lambda runtime name such as "python3.13": PATH first, then pyenv."""
    version = runtime.removeprefix("python")
    on_path = shutil.which(runtime)
    # A pyenv shim is on PATH even when that version is not selected; running it is the only honest test.
    if on_path and _runs_as(on_path, version):
        return Path(on_path)
    found = _from_pyenv(version)
    if found is None:
        raise ToolError(
            f"no {runtime} interpreter found on PATH or in pyenv; sam build needs one because it cannot use "
            f"containers here (install it, e.g. `pyenv install {version}`)"
        )
    return found


def build_environment(interpreter: Path) -> dict[str, str]:
    """The environment for `sam build`: the runtime's interpreter first on PATH, telemetry off."""
    env = dict(os.environ)
    env["PATH"] = f"{interpreter.parent}{os.pathsep}{env.get('PATH', '')}"
    env["SAM_CLI_TELEMETRY"] = "0"
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return env


def host_architecture() -> str:
    """This machine's Lambda architecture name, so native wheels in a local build load here."""
    return "arm64" if platform.machine().lower() in ("aarch64", "arm64") else "x86_64"
