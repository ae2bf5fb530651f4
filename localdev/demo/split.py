"""Counts which payments version answers N requests sent through a sidecar: shows the canary split.

python -m localdev.demo.split --via 127.0.0.1:15101 -n 500
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import Counter

from localdev.bench.loadgen import run_load


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--via", default="127.0.0.1:15101", help="the calling sidecar's outbound listener")
    p.add_argument("--host", default="payments", help="the service to call")
    # /charge: the demo AuthorizationPolicy (mesh-authz.yaml) lets orders call only that path on payments
    p.add_argument("--path", default="/charge", help="the path to call")
    p.add_argument("-n", type=int, default=500)
    args = p.parse_args()
    host, port = args.via.rsplit(":", 1)
    run = asyncio.run(run_load(host, int(port), host_header=args.host, path=args.path, connections=4, requests=args.n))
    counts: Counter[str] = Counter()
    for r in run.replies:
        counts[json.loads(r.body).get("version", "?") if r.status == 200 else f"HTTP {r.status}"] += 1
    counts.update({"connection error": len(run.errors)} if run.errors else {})
    for key, n in counts.most_common():
        print(f"{key:>18}  {n:5d}  {100 * n / args.n:5.1f}%")


if __name__ == "__main__":
    main()
