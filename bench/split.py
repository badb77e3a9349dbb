"""The DiffSpot-shaped benchmark split over development-corpus pages, as a user would run it: the
pages served as several sites on 127.0.0.1 and listed without categories, 13 operators × 3 tiers,
one pair per page, no-diff controls, default config with the offline encoder on. Prints, from one
run, the plain Playwright load loop over the same pages, the split's wall time and their ratio,
pairs/s, pages/s, fill per cell, candidates and embeddings per exported row, and the time 4,400
pairs would take at that rate.

    python bench/split.py                       # 200 pages, quota scaled to them
    python bench/split.py --pages 101 --quota 2 --no-diff 10 --max-domain-share 0.3
    python bench/split.py --pages 101 --loads-only     # the page loads against the floor
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

from playwright.async_api import Browser, Route, async_playwright
from playwright.async_api import Error as PlaywrightError

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from corpus import corpus_pages  # noqa: E402

from spotdiff.config import CandidateConfig, load_config  # noqa: E402
from spotdiff.generator.page_job import style_properties  # noqa: E402
from spotdiff.generator.run import RunRequest, generate  # noqa: E402
from spotdiff.generator.selection import Quota, load_split, split_config_path  # noqa: E402
from spotdiff.mutators.catalogue import load_catalogue  # noqa: E402
from spotdiff.records import Page  # noqa: E402
from spotdiff.renderer.browser import choose_browser  # noqa: E402
from spotdiff.renderer.session import PageSkipped, Renderer  # noqa: E402

DIFFSPOT_PAIRS = 4400
LOOPBACK = ("127.0.0.1", "localhost")


async def plain_load(browser: Browser, page: Page) -> None:
    """The floor for one page: a new context, goto until load, fonts.ready and one screenshot,
    requests off loopback aborted."""
    async def route(r: Route) -> None:
        if (urlsplit(r.request.url).hostname or "") in LOOPBACK or r.request.url.startswith(
                "data:"):
            await r.continue_()
        else:
            await r.abort()

    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    await context.route("**/*", route)
    tab = await context.new_page()
    try:
        await tab.goto(page.url, wait_until="load", timeout=20_000)
        await tab.evaluate("document.fonts.ready.then(() => true)")
        await tab.screenshot()
    except PlaywrightError as e:  # a page the floor cannot load costs its time
        print(f"plain loop: {page.url}: {e}", file=sys.stderr)
    await context.close()


async def spotdiff_load(renderer: Renderer, page: Page, candidates: CandidateConfig,
                        properties: list[str]) -> None:
    """The same page loaded as generation loads it: a fresh context, load and settle, the
    element listing and the stable first screenshot."""
    try:
        loaded = await renderer.open(page)
    except PageSkipped as e:
        print(f"spotdiff loop: {page.url}: {e}", file=sys.stderr)
        return
    try:
        await loaded.elements(candidates, properties)
        await loaded.stable_screenshot()
    except PageSkipped as e:
        print(f"spotdiff loop: {page.url}: {e}", file=sys.stderr)
    finally:
        await loaded.close()


def load_loops(pages: list[Page]) -> tuple[float, float]:
    """Seconds for the plain loop and for spotdiff's page loads over the same pages, in one
    process: page by page, taking turns at going first, so both see the same machine (on a
    shared one, load from other sessions moves both alike)."""
    cfg = load_config()
    properties = style_properties(load_catalogue(cfg.operator_paths()))

    async def run() -> tuple[float, float]:
        seconds = [0.0, 0.0]
        async with async_playwright() as pw, Renderer(cfg.browser, cfg.render) as renderer:
            browser = await pw.chromium.launch(
                executable_path=choose_browser(pw, cfg.browser).executable)
            for i, page in enumerate(pages):
                for which in (i % 2, 1 - i % 2):
                    start = time.perf_counter()
                    await (plain_load(browser, page) if which == 0 else
                           spotdiff_load(renderer, page, cfg.candidates, properties))
                    seconds[which] += time.perf_counter() - start
            await browser.close()
        return seconds[0], seconds[1]

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--quota", type=int, help="pairs per cell (default: scaled to pages)")
    parser.add_argument("--no-diff", type=int, help="controls (default: a tenth of the pages)")
    parser.add_argument("--max-domain-share", type=float, default=0.3)
    parser.add_argument("--clip", default="onnx", help="clip.backend: onnx, auto, none")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="keep the dataset here (default: a temp dir)")
    parser.add_argument("--loads-only", action="store_true",
                        help="only the plain loop against spotdiff's page loads, no split")
    parser.add_argument("--no-floor", action="store_true",
                        help="skip the two load loops (fill and tries only, no time ratios)")
    args = parser.parse_args()
    split = load_split(split_config_path("test"))
    cfg = load_config(overrides={"seed": args.seed})
    cfg.clip.backend = args.clip
    cells = len(split.operators or []) * len(split.tiers)
    no_diff = args.no_diff if args.no_diff is not None else max(1, args.pages // 10)
    quota = args.quota or max(1, round(0.77 * args.pages / cells))
    split = split.model_copy(update={"quota_per_cell": quota, "no_diff": no_diff,
                                     "max_domain_share": args.max_domain_share})
    with ExitStack() as stack:
        # as a user's URL list: no categories given, so the pages are classified when loaded
        pages = [replace(p, domain=None) for p in corpus_pages(stack, args.pages)]
        floor, ours = (math.nan, math.nan) if args.no_floor else load_loops(pages)
        if args.loads_only:
            print(json.dumps({"pages": len(pages), "plain_loop_s": round(floor, 1),
                              "spotdiff_load_loop_s": round(ours, 1),
                              "page_load_vs_plain_loop": round(ours / floor, 2)}))
            return
        out = args.out or Path(stack.enter_context(tempfile.TemporaryDirectory())) / "split"
        req = RunRequest(pages, out, Quota.from_split(split, list(load_catalogue(
            cfg.operator_paths()))), cfg.sampling.max_pairs_per_page, no_diff,
            workers=args.workers)
        start = time.perf_counter()
        stats = generate(req, cfg)
        wall = time.perf_counter() - start
        import pyarrow.parquet as pq

        table = pq.read_table(sorted((out / "data").glob("*.parquet")),
                              columns=["url", "domain", "task_type"]).to_pylist()
    visual = stats["rows"].get("visual_diff", 0)
    wanted = sum(stats["requested"]["cells"].values())
    fill = stats["fill"]
    filled = sum(got >= want for tiers in fill.values() for got, want, _ in tiers.values())
    candidates = stats["candidates"]["tried"]
    accepted = stats["candidates"].get("accepted", 0)
    embedded = stats.get("clip", {}).get("images_embedded", 0)
    urls = [r["url"] for r in table]
    timings = stats.get("timings_s", {})
    loads = stats["pages"].get("total", 0) + stats.get("no_diff", {}).get("made", 0)
    page_cost = sum(timings.get(k, 0) for k in ("load", "enumerate", "stable_shot")) / max(
        1, loads)
    summary = {
        "pages": len(pages), "quota_per_cell": quota, "no_diff": no_diff,
        "max_domain_share": args.max_domain_share, "clip": args.clip, "workers": args.workers,
        "plain_loop_s": round(floor, 1), "plain_loop_s_per_page": round(floor / len(pages), 3),
        "spotdiff_load_s_per_page": round(ours / len(pages), 3),
        "split_wall_s": round(wall, 1), "ratio_to_plain_loop": round(wall / floor, 2),
        "rows": stats["rows"], "visual_wanted": wanted,
        "cells_filled": f"{filled} of {cells}", "cells_filled_share": round(filled / cells, 3),
        "pairs_per_s": round(visual / wall, 3),
        "pages_loaded": stats["pages"].get("total", 0),
        "pages_per_s": round(stats["pages"].get("total", 0) / wall, 3),
        "candidates_per_exported_pair": round(candidates / max(1, visual), 2),
        # changes whose layout, read before drawing, showed their rejection: applied, not drawn
        "foreseen_per_exported_pair": round(
            sum(stats["candidates"].get("foreseen", {}).values()) / max(1, visual), 2),
        "probe_ms_per_foreseen_or_tried": round(1000 * stats["timings_s"].get("probe", 0) / max(
            1, candidates + sum(stats["candidates"].get("foreseen", {}).values())), 1),
        "accepted_unused_per_exported_pair": round((accepted - visual) / max(1, visual), 2),
        "embeddings_per_exported_row": round(embedded / max(1, len(table)), 2),
        "every_url_once": len(urls) == len(set(urls)),
        "domains": dict(sorted({d: sum(r["domain"] == d for r in table)
                                for d in {r["domain"] for r in table}}.items())),
        "waves": stats["waves"], "domain_cap": stats["domain_cap"],
        # a page load as generation makes it (context, navigation, settle, element listing,
        # the stable first screenshot) in one process, against the plain loop's; and the same
        # stages' worker time per load inside the split (2 workers, so contended)
        "spotdiff_load_loop_s": round(ours, 1),
        "page_load_vs_plain_loop": round(ours / floor, 2),
        "split_worker_s_per_load": round(page_cost, 3),
        "extrapolated_s_for_4400_pairs": round(wall / max(1, visual) * DIFFSPOT_PAIRS),
        "stage_s": {k: round(v, 1) for k, v in sorted(stats.get("timings_s", {}).items())},
        "fill": {f"{op} {tier}": f"{got}/{want}" for op, tiers in fill.items()
                 for tier, (got, want, _) in tiers.items()},
        "short_cells": stats["short_cells"],
    }
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
