"""`spotdiff crawl` and `spotdiff pages`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from spotdiff.config import ConfigError, CrawlConfig, RunConfig, load_config, validate
from spotdiff.console import ConfigOpt, console, fail, out_console
from spotdiff.crawler.crawl import crawl, read_stats

SHOWN = 12  # rows per breakdown in the summary


def _config(config: Path | None, changes: dict[str, Any], sample: dict[str, Any]) -> RunConfig:
    """The run config with the command line's crawl options laid over its `crawl:` section."""
    try:
        cfg = load_config(config)
        crawl_cfg = cfg.crawl.model_dump()
        crawl_cfg.update({k: v for k, v in changes.items() if v is not None})
        crawl_cfg["sample"].update({k: v for k, v in sample.items() if v is not None})
        cfg.crawl = validate(CrawlConfig, crawl_cfg, Path("<command line>"), "crawl")
    except ConfigError as e:
        fail(str(e))
    return cfg


def _seeds(seeds: list[str] | None, seeds_file: Path | None) -> list[str]:
    found = list(seeds or [])
    if seeds_file is not None:
        try:
            lines = seeds_file.read_text(encoding="utf-8").splitlines()
        except OSError as e:
            fail(f"{seeds_file}: cannot read: {e.strerror}")
        found += [f for line in lines if (f := line.split("#", 1)[0].strip())]
    if not found:
        fail("give seed URLs, or --seeds-file")
    return found


def crawl_command(
    seeds: Annotated[list[str] | None, typer.Argument(help="Start URLs.")] = None,
    out: Annotated[Path, typer.Option(help="Pages directory to write (or resume).")] = Path(
        "pages"),
    seeds_file: Annotated[Path | None, typer.Option(help="Start URLs, one a line.")] = None,
    max_pages: Annotated[int | None, typer.Option(min=1, help="Pages to capture at most.")
    ] = None,
    depth: Annotated[int | None, typer.Option(min=0, help="Link hops from a seed.")] = None,
    sitemap: Annotated[bool | None, typer.Option(
        "--sitemap/--no-sitemap", help="Also start from the seed sites' sitemaps.")] = None,
    follow_external: Annotated[bool, typer.Option(
        help="Follow links to other sites than the seeds'.")] = False,
    allow_private: Annotated[bool, typer.Option(help=(
        "Allow hosts on private, loopback, link-local or reserved addresses (unsafe)."))] = False,
    allow_network: Annotated[list[str] | None, typer.Option(help=(
        "Allow this non-public network (CIDR), e.g. 127.0.0.0/8; repeatable."))] = None,
    allowed_host: Annotated[list[str] | None, typer.Option(help=(
        "Contact only this host (pages and subresources; others are not even looked up); "
        "repeatable."))] = None,
    delay: Annotated[float | None, typer.Option(
        min=0, help="Seconds between two requests to one host.")] = None,
    concurrency: Annotated[int | None, typer.Option(min=1, help="Pages in flight.")] = None,
    per_host: Annotated[int | None, typer.Option(min=1, help="Pages in flight per host.")
    ] = None,
    page_timeout: Annotated[float | None, typer.Option(
        help="Seconds allowed to fetch, and to capture, one page.")] = None,
    sample: Annotated[int | None, typer.Option(
        min=1, help="Keep this many pages, stratified by domain × complexity.")] = None,
    max_domain_share: Annotated[float | None, typer.Option(
        help="No domain category above this share of the kept pages, e.g. 0.15.")] = None,
    config: ConfigOpt = None,
) -> None:
    """Crawl breadth-first from seed URLs into replayable page archives (robots.txt obeyed,
    private addresses refused). Re-running the same command resumes an interrupted crawl."""
    urls = _seeds(seeds, seeds_file)
    cfg = _config(config, {
        "max_pages": max_pages, "max_depth": depth, "sitemap": sitemap,
        "same_site": False if follow_external else None,
        "allow_private": True if allow_private else None, "allow_networks": allow_network,
        "allowed_hosts": allowed_host,
        "min_interval_s": delay, "concurrency": concurrency, "per_host": per_host,
        "page_timeout_s": page_timeout,
    }, {"pages": sample, "max_domain_share": max_domain_share})
    with Progress(TextColumn("[bold]pages"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("{task.fields[kept]} kept · "
                                                  "{task.fields[queued]} queued"),
                  console=console) as progress:
        task = progress.add_task("crawl", total=cfg.crawl.max_pages, kept=0, queued=0)
        try:
            crawl(cfg, urls, out, lambda p: progress.update(
                task, completed=p.captured, kept=p.kept, queued=p.queued))
        except ConfigError as e:
            fail(str(e))
    out_console.print(summary_table(out))


def summary_table(pages_dir: Path) -> Table:
    stats = read_stats(pages_dir)
    table = Table("", "", title=f"spotdiff pages {pages_dir}", show_header=False)
    table.add_row("[bold]kept", str(stats.get("kept", 0)))
    table.add_row("[bold]captured", str(stats.get("captured", 0)))
    table.add_row("[bold]still queued", str(stats.get("queued", 0)))
    for title, key in (("rejected", "rejected"), ("domain", "categories"), ("site", "sites"),
                       ("language", "languages"), ("complexity", "complexity")):
        counts = list((stats.get(key) or {}).items())
        shown = counts if len(counts) <= SHOWN + 1 else counts[:SHOWN]
        for i, (name, count) in enumerate(shown):
            table.add_row(f"[bold]{title}" if i == 0 else "", f"{name} {count}")
        if len(shown) < len(counts):
            rest = sum(count for _, count in counts[SHOWN:])
            table.add_row("", f"{len(counts) - SHOWN} more: {rest}")
    table.caption = (f"{stats.get('urls_discovered', 0)} URLs discovered · "
                     f"{stats.get('requests', 0)} requests · {stats.get('elapsed_s', 0)} s · "
                     f"{stats.get('pages_per_s', 0)} pages/s · "
                     f"archives {stats.get('archive_bytes', 0) / 1e6:.2f} MB")
    return table


def pages_command(
    pages_dir: Annotated[Path, typer.Argument(help="A directory written by `spotdiff crawl`.")],
) -> None:
    """Summarise a crawl: pages kept, rejected by reason, domains, languages, complexity."""
    if not (pages_dir / "crawl_stats.json").exists():
        fail(f"{pages_dir} has no crawl_stats.json: is it a directory written by crawl?")
    out_console.print(summary_table(pages_dir))
