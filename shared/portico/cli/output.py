"""Console output for the CLI: one place for colours, errors and exit codes."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console, ConsoleDimensions

EXIT_INVALID = 1
EXIT_UNAVAILABLE = 3
UNLIMITED = 100_000  # columns when piped or captured: a script or a file gets whole lines


class _Console(Console):
    """A terminal gets rich's layout at its own width; a pipe, a file or a test capture is never cut or wrapped.

    Rich falls back to 80 columns off a terminal, which cut table cells (`orders-…`) and broke notices mid-sentence
    in `portico get route | grep …` and in CI logs.
    """

    @property
    def size(self) -> ConsoleDimensions:
        if self._width is None and not self.is_terminal:
            return ConsoleDimensions(UNLIMITED, 25)
        return super().size

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size


out = _Console(highlight=False)
err = _Console(stderr=True, highlight=False)


def fail(message: str, code: int = EXIT_INVALID) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", markup=True, soft_wrap=True)
    raise typer.Exit(code)
