"""Console output for the CLI: one place for colours, errors and exit codes."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

EXIT_INVALID = 1
EXIT_UNAVAILABLE = 3


def fail(message: str, code: int = EXIT_INVALID) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", markup=True, soft_wrap=True)
    raise typer.Exit(code)
