"""What the commands share: where they write (progress and errors to stderr, tables to stdout),
how they fail, and the run config they read."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from spotdiff.config import ConfigError, RunConfig, load_config
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


ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="Run config YAML.")]


def run_config(config: Path | None, overrides: dict[str, Any] | None = None) -> RunConfig:
    """The run config (`--config`, else the default) with `overrides`; a bad one fails."""
    try:
        return load_config(config, overrides)
    except ConfigError as e:
        fail(str(e))
