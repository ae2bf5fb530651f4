"""The `portico` command: registers each command group and turns expected failures into clear messages."""

from __future__ import annotations

import sys
from typing import Any

import typer

from portico.cli import (
    config_cmds,
    dev_cmds,
    graph_cmds,
    history_cmds,
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
for module in (
    config_cmds,
    history_cmds,
    dev_cmds,
    mesh_cmds,
    portal_cmds,
    quota_cmds,
    identity_cmds,
    graph_cmds,
    import_cmds,
):
    module.register(app)


def command() -> Any:
    """The click command behind `app`, with help that names values instead of types (what the console script runs).

    typer 0.2x prints a type placeholder beside every parameter (`--dry-run <bool>`, `--file -f <list[Path]>`), as
    if a flag took a value. Here a flag shows nothing, an option or argument shows its name in capitals (FILE,
    KIND), and a choice shows its choices: the way git, kubectl and aws write their help.
    """
    cmd = typer.main.get_command(app)
    _plain_metavars(cmd)
    return cmd


def _plain_metavar(param: Any) -> None:
    # typer ships its own copy of click, so parameters are told apart by what they have, not by class
    if getattr(param, "param_type_name", "") == "argument":
        param.display_type_rich = lambda ctx: None  # the name column already shows KIND; no <str> beside it
    if param.metavar is not None:
        return
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        param.metavar = ""
    elif choices := _choices(param):
        param.metavar = "|".join(str(getattr(c, "value", c)) for c in choices)
    else:
        name = (param.name or "value").upper()
        param.metavar = name[:-1] if name.endswith("S") and getattr(param, "multiple", False) else name


def _choices(param: Any) -> list[Any]:
    desc = getattr(param, "type_descriptor", None)
    if desc is not None:
        return list(desc.choices or ()) if desc.is_choice else []
    return list(getattr(getattr(param, "type", None), "choices", None) or ())


def _plain_metavars(cmd: Any) -> None:
    for param in cmd.params:
        _plain_metavar(param)
    make_help = cmd.get_help_option

    def help_option(ctx: Any) -> Any:  # click adds --help per context; it is a flag like any other
        option = make_help(ctx)
        if option is not None:
            _plain_metavar(option)
        return option

    cmd.get_help_option = help_option
    for sub in getattr(cmd, "commands", {}).values():
        _plain_metavars(sub)


def run() -> None:
    """Console-script entry point."""
    sys.exit(command()())
