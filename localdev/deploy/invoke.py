"""Runs a function from the `sam build` output on the runtime's own interpreter, as Lambda would load it.

Lambda puts the function's code in the working directory and each layer's python/ folder on sys.path, and
ships boto3 with the runtime. Locally that is a small venv of the runtime's interpreter holding only boto3
(the stand-in for the runtime's SDK), the built function directory and the built layer directories: nothing
from the product venv or the repository is importable, so a missing layer dependency fails here as on AWS.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localdev.deploy.build import function_runtime
from localdev.deploy.tools import REPO, runtime_interpreter
from localdev.tables import load_template

_RUNNER = """
import importlib, json, sys
module_name, function_name = sys.argv[1].rsplit(".", 1)
handler = getattr(importlib.import_module(module_name), function_name)
class Context:
    function_name = sys.argv[2]
    aws_request_id = "local-invoke"
    def get_remaining_time_in_millis(self):
        return 30000
print(json.dumps(handler(json.load(sys.stdin), Context())))
"""


def runtime_venv(runtime: str, root: Path = REPO / ".portico" / "runtime") -> Path:
    """The runtime stand-in venv (created once): the runtime's interpreter plus boto3. Returns its python."""
    venv = root / runtime
    python = venv / "bin" / "python"
    if not (venv / ".ready").exists():
        subprocess.run([str(runtime_interpreter(runtime)), "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "boto3"],
            check=True,
        )
        (venv / ".ready").touch()
    return python


@dataclass(frozen=True)
class RuntimeProcess:
    """How to start a built function's code as Lambda would: interpreter, environment and working directory."""

    python: Path
    env: dict[str, str]
    cwd: Path
    handler: str


def runtime_process(build_dir: Path, logical_id: str, environment: dict[str, str]) -> RuntimeProcess:
    """The runtime stand-in for `logical_id` from `build_dir`; `environment` is the function's own env."""
    build_dir = build_dir.resolve()
    built = load_template(build_dir / "template.yaml")
    resource = built["Resources"][logical_id]
    props = {**built.get("Globals", {}).get("Function", {}), **resource.get("Properties", {})}
    layers = [build_dir / ref["Ref"] / "python" for ref in props.get("Layers", []) if "Ref" in ref]
    code = build_dir / str(resource["Properties"]["CodeUri"])
    env = {
        **{k: v for k, v in os.environ.items() if k.startswith(("AWS_", "LOCALSTACK_"))},
        "PATH": os.environ.get("PATH", ""),
        **environment,
        "PYTHONPATH": os.pathsep.join(str(p) for p in [code, *layers]),
        "AWS_LAMBDA_FUNCTION_NAME": logical_id,
        "LAMBDA_TASK_ROOT": str(code),
    }
    return RuntimeProcess(runtime_venv(function_runtime(built)), env, code, str(props["Handler"]))


def invoke_built(
    build_dir: Path, logical_id: str, event: dict[str, Any], environment: dict[str, str], timeout: float = 60
) -> dict[str, Any]:
    """Call `logical_id`'s handler from `build_dir` with `event`; `environment` is the function's own env."""
    process = runtime_process(build_dir, logical_id, environment)
    done = subprocess.run(
        [str(process.python), "-s", "-c", _RUNNER, process.handler, logical_id],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        cwd=process.cwd,
        env=process.env,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{logical_id} failed to run from {process.cwd}:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
