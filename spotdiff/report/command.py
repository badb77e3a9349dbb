"""`spotdiff report DATASET`: the typer command; the work is `build.build_report`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer


def report(
    dataset: Annotated[Path, typer.Argument(help="A directory written by `spotdiff generate`.")],
    out: Annotated[Path | None, typer.Option(help="Where to write it. Default: DATASET/report.")]
    = None,
    page_size: Annotated[int, typer.Option(min=1, help="Pairs per gallery page.")] = 48,
) -> None:
    """Write a static HTML report (opens from disk): summary, plots, a gallery of every pair
    with before/after/diff and the target box, and the rejected samples kept by --keep-rejects."""
    if not (dataset / "data").is_dir():
        typer.echo(f"{dataset} has no data/ directory: is it a dataset written by generate?",
                   err=True)
        raise typer.Exit(2)
    from spotdiff.report.build import build_report  # matplotlib and co. load only when used

    start = time.perf_counter()
    index = build_report(dataset, out, page_size=page_size)
    size = sum(p.stat().st_size for p in index.parent.rglob("*") if p.is_file())
    typer.echo(f"wrote {index} ({size / 1e6:.1f} MB, {time.perf_counter() - start:.1f} s); "
               "open it in a browser, it needs no server")
