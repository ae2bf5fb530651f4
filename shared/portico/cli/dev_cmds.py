"""`portico dev up|down`: run Portico locally from a checkout (the orchestration lives in the repo's localdev/)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from portico.cli.output import err, fail

dev = typer.Typer(help="Local development: embedded AWS, front door, demo services.", no_args_is_help=True)


def repo_root() -> Path:
    """The checkout that holds localdev/ and template.yaml: the working directory upwards, then the package's own."""
    starts = [Path.cwd(), Path(__file__).resolve()]
    for start in starts:
        for candidate in (start, *start.parents):
            if (candidate / "localdev" / "dev").is_dir() and (candidate / "template.yaml").is_file():
                return candidate
    fail(
        "`portico dev` runs the local stack from a Portico checkout (a folder with localdev/ and template.yaml) and "
        "is not part of the installed package: clone the repository and run `make dev` in it (see its README)"
    )


def _localdev(root: Path) -> None:
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    installed = Path(__file__).resolve().parents[1]
    checkout = (root / "shared" / "portico").resolve()
    if installed != checkout:
        # The stack's processes run the checkout's package (dev up puts root/shared first on their PYTHONPATH);
        # this process is another copy, so say so instead of letting the two drift apart silently.
        err.print(
            f"[yellow]warning:[/yellow] this `portico` runs {installed}, not the checkout's {checkout}; "
            f"use {root / '.venv' / 'bin' / 'portico'} (`make dev`) to run one copy",
            soft_wrap=True,
        )


def add_localdev_path() -> Path:
    """Make the checkout's `localdev` package importable (dev commands use it); return the checkout."""
    root = repo_root()
    _localdev(root)
    return root


@dev.command()
def up(
    detach: Annotated[bool, typer.Option("--detach", help="Start everything in the background and return.")] = False,
) -> None:
    """Start the embedded AWS (unless one answers), tables, demo config, front door and demo services."""
    root = repo_root()
    _localdev(root)
    from localdev.dev.up import run_up

    raise typer.Exit(run_up(root, detach=detach))


@dev.command()
def down() -> None:
    """Stop everything `dev up --detach` started."""
    root = repo_root()
    _localdev(root)
    from localdev.dev.up import run_down

    raise typer.Exit(run_down(root))


def register(app: typer.Typer) -> None:
    app.add_typer(dev, name="dev")
