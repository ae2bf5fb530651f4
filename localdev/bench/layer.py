"""Layer benchmark: cold init of the *built* edge function with and without the bytecode `sam build` ships.

Lambda mounts the layer at /opt and the code at /var/task read-only, so Python can never cache bytecode there:
what the artifact ships is what every cold start gets. This runs the `sam build` output on the runtime's own
interpreter with only the function, its layer and boto3 importable (localdev.deploy.invoke), with
PYTHONDONTWRITEBYTECODE=1 to mimic the read-only mount, once as built and once from a copy stripped of its
__pycache__ folders. The baseline, measured in the same run on the same interpreter, is issue 3's
`import boto3; boto3.client("dynamodb")`.

Run: python -m localdev.bench.layer [--quick] [--build-dir DIR]  (without --build-dir it runs `sam build` first,
for this host's architecture so the native wheels load here).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

from localdev.deploy.build import sam_build
from localdev.deploy.bytecode import strip_bytecode
from localdev.deploy.invoke import runtime_process
from localdev.deploy.tools import REPO, host_architecture

_BASELINE = "import boto3; boto3.client('dynamodb', region_name='us-east-1')"
_ROUTES = """
apiVersion: portico/v1
kind: Route
metadata: {name: hello}
spec:
  match: {methods: [GET], path: "/hello/{name}"}
  auth: {none: {}}
  upstream: {mock: {status: 200, json: {hello: world}}}
"""


def _timed(build_dir: Path, code: str, config: Path) -> float:
    """Seconds `code` takes in a fresh runtime process for the built EdgeFunction."""
    environment = {
        "PORTICO_CONFIG_FILE": str(config),
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PYTHONDONTWRITEBYTECODE": "1",  # /opt and /var/task are read-only on Lambda
    }
    process = runtime_process(build_dir, "EdgeFunction", environment)
    script = f"import time; t0 = time.perf_counter(); {code}; print(time.perf_counter() - t0)"
    done = subprocess.run(
        [str(process.python), "-s", "-c", script],
        cwd=process.cwd,
        env=process.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def cold_init(build_dir: Path, reps: int, workdir: Path) -> dict[str, float]:
    """Median seconds of each case over `reps` fresh processes, interleaved so machine drift hits all alike."""
    config = workdir / "edge.yaml"
    config.write_text(_ROUTES)
    source_only = workdir / "source-only"
    shutil.copytree(build_dir, source_only, symlinks=True)
    strip_bytecode(source_only)
    handler_module = runtime_process(build_dir, "EdgeFunction", {}).handler.rsplit(".", 1)[0]
    edge = f"import {handler_module}"  # import + settings + config snapshot + pipeline, as Lambda's init runs it
    cases = {"baseline": (build_dir, _BASELINE), "bytecode": (build_dir, edge), "source": (source_only, edge)}
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(reps):
        for name, (directory, code) in cases.items():
            samples[name].append(_timed(directory, code, config))
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one process per case (smoke test)")
    parser.add_argument("--build-dir", type=Path, help="an existing `sam build` output built for this host")
    args = parser.parse_args()
    reps = 1 if args.quick else 5
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        build_dir = args.build_dir
        if build_dir is None:
            build_dir = workdir / "build"
            sam_build(REPO / "template.yaml", build_dir, {"Architecture": host_architecture()})
        cold = cold_init(build_dir, reps, workdir)
    base = cold["baseline"]
    rows = [
        ("cold init: import boto3 + dynamodb client (baseline)", cold["baseline"], "1.00x"),
        ("cold init: built edge, layer ships bytecode", cold["bytecode"], f"{cold['bytecode'] / base:.2f}x"),
        ("cold init: built edge, source only (before)", cold["source"], f"{cold['source'] / base:.2f}x"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"runtime interpreter, PYTHONDONTWRITEBYTECODE=1, median of {reps} fresh processes")
    print(f"{'measure'.ljust(width)}  {'value':>10}  ratio")
    for name, seconds, ratio in rows:
        print(f"{name.ljust(width)}  {seconds * 1000:>7.1f} ms  {ratio}")
    saved = cold["source"] - cold["bytecode"]
    print(f"bytecode saves {saved * 1000:.1f} ms per cold start ({cold['source'] / cold['bytecode']:.2f}x faster)")


if __name__ == "__main__":
    main()
