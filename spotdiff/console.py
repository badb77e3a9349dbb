"""Where the command line writes: progress and errors to stderr, tables to stdout."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer
from rich.console import Console

console = Console(stderr=True)
# Tables go to stdout; when it is piped, rich's 80-column default would cut names short.
out_console = Console(width=None if sys.stdout.isatty() else 160)


def fail(message: str) -> NoReturn:
    """Print the error and exit with status 2 (bad input), no traceback."""
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(2)
