"""`python -m localdev.aws`: run the embedded local AWS endpoint in the foreground."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from localdev.aws.process import DEFAULT_HOST, DEFAULT_PORT


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m localdev.aws", description=__doc__)
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0: any free port")
    parser.add_argument("--ready-file", type=Path, help="write the URL here once the server is bound")
    parser.add_argument("--parent-pid", type=int, help="exit when this process (the starter) is gone")
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    parser.add_argument(
        "--switch-interval",
        type=float,
        help="thread switch interval in seconds; tests make it tiny so any lost update shows on every run",
    )
    parser.add_argument(
        "--http",
        choices=("asyncio", "werkzeug"),
        default="asyncio",
        help="HTTP server: one asyncio loop (default) or werkzeug's threaded one (for comparison in benchmarks)",
    )
    parser.add_argument("--no-fast-path", action="store_true", help="let moto answer every DynamoDB call")
    args = parser.parse_args(argv)
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)
    if args.quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

    # Imported here so `--help` and argument errors do not pay for importing moto.
    from localdev.aws.server import serve

    serve(
        args.host,
        args.port,
        ready_file=args.ready_file,
        parent_pid=args.parent_pid,
        http=args.http,
        fast=not args.no_fast_path,
    )


if __name__ == "__main__":
    main()
