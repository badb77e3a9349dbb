"""The `spotdiff` command line."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from spotdiff.config import ConfigError, RunConfig, load_config
from spotdiff.console import console, fail, out_console
from spotdiff.crawler.command import crawl_command, pages_command
from spotdiff.crawler.manifest import Manifest
from spotdiff.debug import set_debug
from spotdiff.eval.command import eval_app
from spotdiff.export.parquet import OutputWriteError
from spotdiff.generator.executors import RunFailed
from spotdiff.generator.ledger import RunMismatch
from spotdiff.generator.run import RunRequest, generate
from spotdiff.generator.selection import Quota, load_split, split_config_path
from spotdiff.generator.sources import (
    UrlFileError,
    pages_from_site,
    pages_from_urls_file,
    serve_directory,
    site_root,
)
from spotdiff.mutators.catalogue import load_catalogue
from spotdiff.preflight import PreflightError, preflight
from spotdiff.records import TIERS
from spotdiff.report.command import report

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Visual change-detection pairs from real web pages.")

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="Run config YAML.")]


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
         debug: Annotated[bool, typer.Option(help="Show the traceback of errors.")] = False,
         ) -> None:
    set_debug(debug)
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(message)s",
                        handlers=[RichHandler(console=console, show_path=False)])


def _load(config: Path | None, overrides: dict[str, Any] | None = None) -> RunConfig:
    try:
        return load_config(config, overrides)
    except ConfigError as e:
        fail(str(e))


@app.command()
def operators(config: ConfigOpt = None) -> None:
    """List the operators the configuration declares."""
    cfg = _load(config)
    try:
        catalogue = load_catalogue(cfg.operator_paths())
    except ConfigError as e:
        fail(str(e))
    table = Table("operator", "family", "mechanism", "property", "magnitude", "easy", "medium",
                  "hard")
    for name, spec in sorted(catalogue.items()):
        tiers = [f"{lo:g}–{hi:g}" for lo, hi in (spec.tiers[t] for t in TIERS)]
        if spec.tier_areas:
            tiers = [f"{text}, area {lo:g}–{hi:g}%"
                     for text, (lo, hi) in zip(tiers, (spec.tier_areas[t] for t in TIERS),
                                               strict=True)]
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
        help="A directory of pages to serve on 127.0.0.1 (its manifest.json, else every .html); "
        "`sample`: the sample web bundled with spotdiff.")] = None,
    pages_dir: Annotated[Path | None, typer.Option("--pages", help=(
        "A directory written by `spotdiff crawl`: its kept pages, replayed from their archives "
        "with no network."))] = None,
    split: Annotated[str | None, typer.Option(help=(
        "Split name. When configs/splits/NAME.yaml (or a path to a split file) exists, its quota "
        "table of operator × tier cells is filled instead of --pairs."))] = None,
    pairs: Annotated[int, typer.Option(min=0, help="Visual-diff pairs wanted.")] = 40,
    no_diff: Annotated[int | None, typer.Option(
        min=0, help="No-diff controls wanted (default 8, or the split's).")] = None,
    quota: Annotated[int | None, typer.Option(min=0, help="Override the split's pairs per cell.")
    ] = None,
    max_pairs_per_page: Annotated[int | None, typer.Option(
        min=1, help="Override the split's pairs per page.")] = None,
    max_domain_share: Annotated[float | None, typer.Option(
        min=0.01, max=1.0, help="Override the split's cap on one domain category's share of the "
        "pairs.")] = None,
    strict: Annotated[bool, typer.Option(
        help="Exit non-zero when fewer rows are written than the split asks for.")] = False,
    mutations_per_pair: Annotated[int | None, typer.Option(min=1, max=3)] = None,
    seed: Annotated[int | None, typer.Option(help="Overrides the config's seed.")] = None,
    max_pages: Annotated[int | None, typer.Option(min=1)] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes, each with a browser.")
    ] = max(1, os.cpu_count() or 1),
    pages_in_flight: Annotated[int, typer.Option(min=1, help="Pages loaded at once per worker.")
    ] = 2,
    executor: Annotated[str, typer.Option(help="local | ray")] = "local",
    ray_address: Annotated[str | None, typer.Option(help="Ray cluster address (ray.init).")
    ] = None,
    keep_rejects: Annotated[int, typer.Option(
        min=0, help="Keep this many rejected candidates per reason in out/rejects/.")] = 0,
    config: ConfigOpt = None,
) -> None:
    """Render pages, mutate them, gate the pairs and write parquet shards + stats.json.
    Re-running the same command resumes an interrupted run."""
    overrides: dict[str, Any] = {"seed": seed} if seed is not None else {}
    split_file = split_config_path(split) if split else None
    if split:
        overrides["split"] = split_file.stem if split_file else split
    cfg = _load(config, overrides)
    if mutations_per_pair:
        cfg.sampling.mutations_per_pair = mutations_per_pair
    if sum(x is not None for x in (urls_file, site, pages_dir)) != 1:
        fail("give exactly one of --urls-file, --site or --pages")
    if executor not in ("local", "ray"):
        fail("--executor is local or ray")
    with contextlib.ExitStack() as stack:
        if site is not None:
            site = site_root(site)
            if not site.is_dir():
                fail(f"{site}: not a directory (--site sample serves the bundled sample web)")
            pages = pages_from_site(site, stack.enter_context(serve_directory(site)))
        elif pages_dir is not None:
            pages = Manifest(pages_dir).kept_pages()
            if not pages:
                fail(f"{pages_dir} has no kept pages: is it a directory written by crawl?")
        else:
            assert urls_file is not None
            try:
                pages = pages_from_urls_file(urls_file)
            except UrlFileError as e:
                fail(str(e))
        pages = pages[:max_pages] if max_pages else pages
        try:
            cfg = preflight(cfg, out)
        except PreflightError as e:
            fail(str(e))
        options = {"workers": workers, "pages_in_flight": pages_in_flight,
                   "keep_rejects": keep_rejects, "executor": executor,
                   "ray_address": ray_address}
        try:
            if split_file is not None:
                req = split_request(split_file, pages, out, cfg, quota, max_pairs_per_page,
                                    max_domain_share, no_diff, options)
            else:
                req = RunRequest.for_pairs(pages, out, pairs, 8 if no_diff is None else no_diff,
                                           cfg, **options)
            progress = stack.enter_context(Progress(
                TextColumn("[bold]pages"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), TextColumn("{task.fields[accepted]} pairs accepted"),
                console=console))
            task = progress.add_task("pages", total=len(pages), accepted=0)
            stats = generate(req, cfg, lambda n, accepted: progress.update(
                task, advance=n, accepted=progress.tasks[0].fields["accepted"] + accepted))
        except (ConfigError, RunMismatch) as e:
            fail(str(e))
        except RunFailed as e:
            fail(f"run stopped: {e}; finished pages are kept, the same command resumes", 1)
        except KeyboardInterrupt:
            fail("interrupted; finished pages are kept, the same command resumes", 130)
        except OSError as e:  # the output disk is full or gone
            error = e if isinstance(e, OutputWriteError) else OutputWriteError(
                Path(e.filename or out), e)
            fail(f"{error}; finished pages are kept, the same command resumes", 1)
    console.print(_summary(stats))
    short = _shortfall_lines(stats)
    for line in short:
        console.print(line)
    console.print(f"wrote {out}/data, {out}/stats.json, {out}/config.yaml")
    if empty := empty_run(stats):
        fail(empty, 1)
    if short and strict:
        raise typer.Exit(1)


def empty_run(stats: dict[str, Any]) -> str | None:
    """Why a run that wanted rows wrote none (a make target building on it must not go on)."""
    requested = stats.get("requested", {})
    if stats.get("rows") or not (any(requested.get("cells", {}).values())
                                 or requested.get("no_diff")):
        return None
    skipped = stats.get("pages", {}).get("skipped", {})
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(skipped.items(), key=lambda kv: -kv[1]))
    return ("no rows written: " + (f"pages skipped: {reasons}" if reasons
                                   else "no candidate passed the gate"))


def _shortfall_lines(stats: dict[str, Any]) -> list[str]:
    """The honest ending: each cell the run could not fill, and why."""
    lines = [f"  {op} {tier}: {why}" for op, tiers in sorted(stats["short_cells"].items())
             for tier, why in tiers.items()]
    if stats["short_no_diff"]:
        lines.append(f"  no_diff: {stats['short_no_diff']} of {stats['requested']['no_diff']} "
                     "controls missing (pages exhausted)")
    if not lines:
        return []
    wanted = sum(stats["requested"]["cells"].values()) + stats["requested"]["no_diff"]
    written = sum(stats["rows"].values())
    cap = stats["domain_cap"]
    head = [f"[bold yellow]short: {written} of {wanted} rows written[/]"]
    if not cap["met"]:
        head.append(f"  the domain cap allows {cap['rows_allowed']} of {cap['rows_wanted']} "
                    f"pairs: {cap['rows_per_category']} a category; pages per category "
                    + ", ".join(f"{k} {v}" for k, v in cap["categories"].items()))
    return head + lines


app.command()(report)
app.command("crawl")(crawl_command)
app.command("pages")(pages_command)
app.add_typer(eval_app, name="eval")


@app.command("calibrate")
def calibrate_command(
    dataset: Annotated[Path, typer.Argument(help="A directory written by generate.")],
) -> None:
    """Per operator × tier: median/p10/p90 of pixel_diff, target_diff, SSIM, clip_distance and
    visibility, whether they fall from easy to hard, and the visibility tertiles to set
    `visibility.bounds` from (calibration.json + calibration.png)."""
    from spotdiff.report.calibration import MEASURES, calibrate

    if not (dataset / "data").is_dir():
        fail(f"{dataset} has no data/ directory: is it a dataset written by generate?")
    table = calibrate(dataset)
    out = Table("operator", "tier", "n", *(f"median {m}" for m in MEASURES))
    for op, entry in table.items():
        for tier in ("easy", "medium", "hard"):
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


def split_request(split_file: Path, pages: list, out: Path, cfg: RunConfig, quota: int | None,
                  max_pairs_per_page: int | None, max_domain_share: float | None,
                  no_diff: int | None, options: dict[str, Any]) -> RunRequest:
    split = load_split(split_file)
    changes = {k: v for k, v in (("quota_per_cell", quota), ("no_diff", no_diff),
                                 ("max_pairs_per_page", max_pairs_per_page),
                                 ("max_domain_share", max_domain_share))
               if v is not None}
    split = split.model_copy(update=changes)
    catalogue = load_catalogue(cfg.operator_paths())
    unknown = set(split.operators or []) - set(catalogue)
    if unknown:
        raise ConfigError(f"{split_file}: key 'operators': unknown operator(s) {sorted(unknown)}")
    return RunRequest(pages, out, Quota.from_split(split, list(catalogue)),
                      cfg.sampling.max_pairs_per_page, split.no_diff, **options)
