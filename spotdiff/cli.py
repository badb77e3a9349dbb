"""The `spotdiff` command line: assembles the commands, each defined in its subpackage's
command.py."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.logging import RichHandler

from spotdiff.console import console
from spotdiff.crawler.command import crawl_command, pages_command
from spotdiff.debug import set_debug
from spotdiff.eval.command import eval_app
from spotdiff.generator.command import generate_command
from spotdiff.mutators.command import operators_command
from spotdiff.report.command import calibrate_command, report_command

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Visual change-detection pairs from real web pages.")


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
         debug: Annotated[bool, typer.Option(help="Show the traceback of errors.")] = False,
         ) -> None:
    set_debug(debug)
    # other libraries' INFO lines (matplotlib's font cache on a first report) are not ours to show
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(message)s",
                        handlers=[RichHandler(console=console, show_path=False)])
    logging.getLogger("spotdiff").setLevel(logging.DEBUG if verbose else logging.INFO)


app.command("operators")(operators_command)
app.command("generate")(generate_command)
app.command("report")(report_command)
app.command("crawl")(crawl_command)
app.command("pages")(pages_command)
app.add_typer(eval_app, name="eval")
app.command("calibrate")(calibrate_command)
