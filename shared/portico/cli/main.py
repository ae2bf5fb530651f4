"""The `portico` command: registers each command group and turns expected failures into clear messages."""

from __future__ import annotations

import sys

import typer

from portico.cli import (
    config_cmds,
    dev_cmds,
    graph_cmds,
    identity_cmds,
    import_cmds,
    mesh_cmds,
    portal_cmds,
    quota_cmds,
)

app = typer.Typer(
    name="portico",
    help="Portico: serverless API gateway and service mesh for AWS.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each module adds its commands; a new command group is one more line here.
for module in (config_cmds, dev_cmds, mesh_cmds, portal_cmds, quota_cmds, identity_cmds, graph_cmds, import_cmds):
    module.register(app)


def run() -> None:
    """Console-script entry point."""
    sys.exit(app())
