"""`spotdiff report DATASET` and `spotdiff calibrate DATASET`, the commands that read a finished
dataset; the work is `build_report` and `calibrate`, imported when a command runs (matplotlib and
co. load only when used)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from spotdiff.console import console, fail, out_console
from spotdiff.records import TIERS

DatasetArg = Annotated[Path, typer.Argument(help="A directory written by `spotdiff generate`.")]


def _check_dataset(dataset: Path) -> None:
    if not (dataset / "data").is_dir():
        fail(f"{dataset} has no data/ directory: is it a dataset written by generate?")


def report_command(
    dataset: DatasetArg,
    out: Annotated[Path | None, typer.Option(help="Where to write it. Default: DATASET/report.")]
    = None,
    page_size: Annotated[int, typer.Option(min=1, help="Pairs per gallery page.")] = 48,
) -> None:
    """Write a static HTML report (opens from disk): summary, plots, a gallery of every pair
    with before/after/diff and the target box, and the rejected samples kept by --keep-rejects."""
    _check_dataset(dataset)
    from spotdiff.report.build import build_report

    start = time.perf_counter()
    index = build_report(dataset, out, page_size=page_size)
    size = sum(p.stat().st_size for p in index.parent.rglob("*") if p.is_file())
    console.print(f"wrote {index} ({size / 1e6:.1f} MB, {time.perf_counter() - start:.1f} s); "
                  "open it in a browser, it needs no server", highlight=False, soft_wrap=True)


def calibrate_command(
    dataset: DatasetArg,
) -> None:
    """Per operator × tier: median/p10/p90 of pixel_diff, target_diff, SSIM, clip_distance and
    visibility, whether they fall from easy to hard, and the visibility tertiles to set
    `visibility.bounds` from (calibration.json + calibration.png)."""
    from spotdiff.report.calibration import MEASURES, calibrate

    _check_dataset(dataset)
    table = calibrate(dataset)
    out = Table("operator", "tier", "n", *(f"median {m}" for m in MEASURES))
    for op, entry in table.items():
        for tier in TIERS:
            if tier in entry:
                out.add_row(op, tier, str(entry[tier]["n"]),
                            *(f"{entry[tier][m]['median']:.5f}" for m in MEASURES))
    out_console.print(out)
    bounds = Table("operator", "visibility measure", "n", "min", "tertiles (visibility.bounds)")
    for op, entry in table.items():
        if "visibility_bounds" in entry:
            b = entry["visibility_bounds"]
            bounds.add_row(op, b["measure"], str(b["n"]), f"{b['min']:g}",
                           ", ".join(f"{v:.4g}" for v in b["tertiles"]))
    out_console.print(bounds)
    falls = ", ".join(f"{m} {sum(e['falls_easy_to_hard'][m] for e in table.values())}"
                      for m in ("pixel_diff", "clip_distance", "visibility"))
    console.print(f"medians falling from easy to hard, of {len(table)} operators: {falls}; "
                  f"wrote {dataset}/calibration.json and calibration.png")
