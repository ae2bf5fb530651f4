"""The `portico` console script: `portico sidecar` goes straight to the sidecar, every other command to typer.

A sidecar runs for the life of its task, so it must not carry the CLI's typer/rich stack (~3 MiB it never uses):
its flags are parsed by argparse in portico.mesh.main, and typer is imported only for the other commands.
"""

from __future__ import annotations

import sys


def run() -> None:
    args = sys.argv[1:]
    if args[:1] == ["sidecar"]:
        from portico.mesh.main import main

        sys.exit(main(args[1:]))
    from portico.cli.main import run as cli

    cli()
