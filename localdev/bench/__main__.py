"""Runs every benchmark in turn (`make bench`), each in its own process so one's imports never warm another's."""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = [
    "edge",
    "layer",
    "auth",
    "quota",
    "aggregate",
    "portal",
    "grpc",
    "mtls",
    "mesh",
    "mesh_tcp",
    "mesh_grpc",
    "dynamodb",
    "edge_mesh",
]


def main(argv: list[str]) -> int:
    chosen = argv or BENCHMARKS
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    failed = []
    for name in chosen:
        print(f"\n=== localdev.bench.{name}", flush=True)
        if subprocess.call([sys.executable, "-m", f"localdev.bench.{name}"]) != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
