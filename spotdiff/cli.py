"""The `spotdiff` command line."""

from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from spotdiff.config import ConfigError, RunConfig, load_config
from spotdiff.generator.page_job import PageResult
from spotdiff.generator.run import RunMismatch, RunRequest, generate
from spotdiff.generator.sources import pages_from_site, pages_from_urls_file, serve_directory
from spotdiff.mutators.catalogue import load_catalogue

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Visual change-detection pairs from real web pages.")
console = Console(stderr=True)
# Tables go to stdout; when it is piped, rich's 80-column default would cut names short.
out_console = Console(width=None if sys.stdout.isatty() else 160)

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="Run config YAML.")]


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(message)s",
                        handlers=[RichHandler(console=console, show_path=False)])


def _load(config: Path | None, overrides: dict[str, Any] | None = None) -> RunConfig:
    try:
        return load_config(config, overrides)
    except ConfigError as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from e


@app.command()
def operators(config: ConfigOpt = None) -> None:
    """List the operators the configuration declares."""
    cfg = _load(config)
    try:
        catalogue = load_catalogue(cfg.operator_paths())
    except ConfigError as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from e
    table = Table("operator", "family", "mechanism", "property", "magnitude", "easy", "medium",
                  "hard")
    for name, spec in sorted(catalogue.items()):
        tiers = [f"{lo:g}–{hi:g}" for lo, hi in (spec.tiers[t] for t in ("easy", "medium", "hard"))]
        table.add_row(name, spec.family, spec.mechanism, spec.property, spec.magnitude_unit,
                      *tiers)
    out_console.print(table)


def _summary(stats: dict[str, Any]) -> Table:
    table = Table("operator", "tried", "accepted", "rejected (by reason)", title="spotdiff run")
    for name, op in sorted(stats.get("operators", {}).items()):
        rejected = ", ".join(f"{k} {v}" for k, v in sorted(op.get("rejected", {}).items()))
        table.add_row(name, str(op.get("tried", 0)), str(op.get("accepted", 0)), rejected)
    pages = stats.get("pages", {})
    skipped = ", ".join(f"{k} {v}" for k, v in sorted(pages.get("skipped", {}).items()))
    table.caption = (
        f"pages {pages.get('loaded', 0)}/{pages.get('total', 0)} loaded"
        + (f" (skipped: {skipped})" if skipped else "")
        + f" · rows {stats.get('rows', {})} · {stats.get('candidates_per_s', 0)} candidates/s"
        + f" · {stats.get('accepted_per_s', 0)} pairs/s · {stats.get('elapsed_s', 0)} s"
    )
    return table


@app.command("generate")
def generate_command(
    out: Annotated[Path, typer.Option(help="Output dataset directory.")],
    urls_file: Annotated[Path | None, typer.Option(help="URLs, one a line.")] = None,
    site: Annotated[Path | None, typer.Option(
        help="A directory of pages to serve on 127.0.0.1 (its manifest.json, else every .html).")
    ] = None,
    pairs: Annotated[int, typer.Option(min=0, help="Visual-diff pairs wanted.")] = 40,
    no_diff: Annotated[int, typer.Option(min=0, help="No-diff controls wanted.")] = 8,
    seed: Annotated[int | None, typer.Option(help="Overrides the config's seed.")] = None,
    split: Annotated[str | None, typer.Option(help="Split name (shard file prefix).")] = None,
    max_pages: Annotated[int | None, typer.Option(min=1)] = None,
    pages_in_flight: Annotated[int, typer.Option(min=1, help="Pages loaded at once.")] = 2,
    config: ConfigOpt = None,
) -> None:
    """Render pages, mutate them, gate the pairs and write parquet shards + stats.json."""
    overrides = {k: v for k, v in (("seed", seed), ("split", split)) if v is not None}
    cfg = _load(config, overrides)
    if (urls_file is None) == (site is None):
        console.print("[red]error:[/red] give exactly one of --urls-file or --site")
        raise typer.Exit(2)
    with contextlib.ExitStack() as stack:
        if site is not None:
            base = stack.enter_context(serve_directory(site))
            pages = pages_from_site(site, base)
        else:
            assert urls_file is not None
            pages = pages_from_urls_file(urls_file)
        pages = pages[:max_pages] if max_pages else pages
        progress = stack.enter_context(Progress(
            TextColumn("[bold]pages"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.fields[accepted]} pairs"), console=console))
        task = progress.add_task("pages", total=len(pages), accepted=0)
        accepted = 0

        def on_progress(result: PageResult | None, n: int) -> None:
            nonlocal accepted
            accepted += len(result.pairs) if result else 0
            progress.update(task, advance=n, accepted=accepted)

        try:
            stats = generate(RunRequest(pages, out, pairs, no_diff, pages_in_flight), cfg,
                             on_progress)
        except (ConfigError, RunMismatch) as e:
            console.print(f"[red]error:[/red] {e}")
            raise typer.Exit(2) from e
    console.print(_summary(stats))
    console.print(f"wrote {out}/data, {out}/stats.json, {out}/config.yaml")
