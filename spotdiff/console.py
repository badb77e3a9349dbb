"""Where the command line writes: progress and errors to stderr, tables to stdout."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from spotdiff.debug import debugging

console = Console(stderr=True)
# Tables go to stdout; when it is piped, rich's 80-column default would cut names short.
out_console = Console(width=None if sys.stdout.isatty() else 160)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print the error and exit with `code` (2: bad input); the traceback only with --debug."""
    if debugging() and sys.exc_info()[1] is not None:
        console.print_exception()
    # escaped: a key such as `operators[odd]` is not markup
    console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)
