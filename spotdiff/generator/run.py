"""A generation run: pages become work units, workers turn each unit into a part file in the run
ledger, and the finished parts are cut into the dataset's shards by the quota selection.

Which rows make the dataset depends only on the per-unit results, never on scheduling, so a
resumed run (after a crash or kill -9) gives the same rows as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from spotdiff.config import RunConfig
from spotdiff.crawler.classify import Classifier
from spotdiff.export.card import write_card
from spotdiff.export.shards import ShardWriter
from spotdiff.generator.clip_rows import RowDistances, embedded_by_workers, workers_embed
from spotdiff.generator.ledger import RunDir, write_json
from spotdiff.generator.page_job import PageUnit
from spotdiff.generator.pool import WorkerPool
from spotdiff.generator.ray_tasks import run_ray
from spotdiff.generator.selection import (
    Cell,
    Quota,
    fill_table,
    mechanism_fill,
    select,
)
from spotdiff.generator.stats import Stats
from spotdiff.generator.waves import Outcome, Waves
from spotdiff.generator.worker import WorkerSetup
from spotdiff.grounding.embedding import FrameVectors
from spotdiff.mutators.catalogue import OperatorSpec, load_catalogue
from spotdiff.records import Page

log = logging.getLogger("spotdiff.run")


@dataclass(frozen=True)
class RunRequest:
    pages: Sequence[Page]
    out: Path
    quota: Quota
    unit_quota: int  # accepted pairs each page is asked for before selection
    no_diff: int
    workers: int = 1
    pages_in_flight: int = 2
    keep_rejects: int = 0
    executor: str = "local"
    ray_address: str | None = None

    @classmethod
    def for_pairs(cls, pages: Sequence[Page], out: Path, pairs: int, no_diff: int,
                  cfg: RunConfig, **kwargs: Any) -> RunRequest:
        """`--pairs N`: N pairs of any operator and tier, spread evenly over the pages with a
        little slack (some pages give less)."""
        per_page = (min(cfg.sampling.max_pairs_per_page, math.ceil(pairs / len(pages)) + 1)
                    if pages and pairs else 0)
        return cls(pages, out, Quota.total_pairs(pairs, per_page), per_page, no_diff, **kwargs)


def fingerprint(req: RunRequest, cfg: RunConfig, catalogue: dict[str, OperatorSpec]) -> str:
    material = {
        "pages": [p.identity for p in req.pages], "no_diff": req.no_diff,
        "quota": sorted((list(k), v) for k, v in req.quota.cells.items()),
        "per_page": [req.unit_quota, req.quota.max_per_page, req.quota.max_domain_share],
        # the crawl section (but its categories) and the card's licence do not change what
        # generation makes
        "config": cfg.model_dump(mode="json", exclude={"crawl", "license"}),
        "categories": cfg.crawl.categories,
        "keep_rejects": req.keep_rejects,
        "operators": {n: s.model_dump(mode="json") for n, s in sorted(catalogue.items())},
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def outcome(marker: dict[str, Any]) -> Outcome:
    cells = marker["stats"].get("cells", {})
    tried = {(op, tier): (n.get("tried", 0), n.get("accepted", 0))
             for op, tiers in cells.items() for tier, n in tiers.items()}
    return Outcome([tuple(c) for c in marker["visual"]], marker.get("category"),
                   marker["no_diff"], tried, marker.get("mechanisms", []))


def selection(run: RunDir, units: Sequence[PageUnit], quota: Quota
              ) -> tuple[list[dict[str, Any]], list[list[Cell]], list[list[int]]]:
    """The finished units' markers, their accepted cells and the rows selection keeps."""
    markers = [run.read_marker(u.index) for u in units]
    cells = [[tuple(c) for c in m["visual"]] for m in markers]
    domains = [m.get("category") or u.page.domain or "unknown"
               for u, m in zip(units, markers, strict=True)]
    mechanisms = [m["mechanisms"] for m in markers]
    return markers, cells, select(cells, domains, quota, mechanisms)


def kept_rows(run: RunDir, unit: PageUnit, marker: dict[str, Any], picks: list[int]
              ) -> pa.Table | None:
    table = pq.read_table(run.part(unit.index))
    n_visual = len(marker["visual"])  # visual rows come first in a part, then controls
    keep = [*picks, *range(n_visual, table.num_rows)]
    return table.take(keep) if keep else None


def embed_settled(run: RunDir, units: Sequence[PageUnit], quota: Quota,
                  distances: RowDistances) -> None:
    """With one pair per page, selection keeps a unit's row whatever later units give, so the
    rows of finished units can be embedded while the next wave runs."""
    markers, _, chosen = selection(run, units, quota)
    for unit, marker, picks in zip(units, markers, chosen, strict=True):
        table = kept_rows(run, unit, marker, picks)
        if table is not None:
            distances.fill(table)


def finalize(run: RunDir, units: Sequence[PageUnit], req: RunRequest, cfg: RunConfig,
             distances: RowDistances
             ) -> tuple[dict[str, int], dict[str, Any], dict[str, Any]]:
    """Select rows by quota and cut the unit parts into shards, streaming part by part; the
    exported rows get their clip_distance unless the gate already needed it."""
    markers, cells, chosen = selection(run, units, req.quota)
    for marker in markers:
        if "frame_vectors" in marker:
            distances.seed(FrameVectors.from_json(marker["frame_vectors"]))
    shards = ShardWriter(run.out / "data", run.ledger / "shards", run.split,
                         cfg.export.shard_rows, cfg.export.row_group_rows,
                         lambda table: distances.fill(table, threads=os.cpu_count() or 1),
                         lambda: metadata(cfg, distances.stats))
    for unit, marker, picks in zip(units, markers, chosen, strict=True):
        table = kept_rows(run, unit, marker, picks)
        if table is not None:
            shards.add(table)
    rows = shards.close()
    write_rejects_index(run, markers, req.keep_rejects)
    mechanisms = [m["mechanisms"] for m in markers]
    return (dict(rows), fill_table(cells, chosen, req.quota),
            mechanism_fill(mechanisms, chosen, req.quota))


def metadata(cfg: RunConfig, stats: Stats) -> dict[str, str]:
    return {"spotdiff": json.dumps({
        "seed": cfg.seed, "split": cfg.split, "operators": stats.get("catalogue"),
        "clip_models": sorted(stats.get("clip_models") or {})})}


def write_rejects_index(run: RunDir, markers: Sequence[dict[str, Any]], keep: int) -> None:
    """`rejects/index.jsonl`: the first `keep` rejects per reason in unit order; the rest go."""
    if not keep:
        return
    per_reason: Counter[str] = Counter()
    lines = []
    for entry in (e for m in markers for e in m["rejects"]):
        per_reason[entry["reason"]] += 1
        if per_reason[entry["reason"]] <= keep:
            lines.append(json.dumps(entry, ensure_ascii=False))
        else:
            for side in ("before", "after"):
                (run.out / entry[side]).unlink(missing_ok=True)
    run.rejects.mkdir(parents=True, exist_ok=True)
    (run.rejects / "index.jsonl").write_text("".join(f"{line}\n" for line in lines))


def shortfalls(fill: dict[str, dict[str, list[int]]], stats: Stats, waves: Waves,
               cap: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Why each unfilled cell stayed short: pairs the domain cap held back, what the gate made
    of the cell's tries, pages with no element for it, and whether the pages ran out."""
    exhausted = waves.need_now.exhausted if waves.need_now else {}
    out: dict[str, dict[str, str]] = {}
    for op, tiers in fill.items():
        for tier, (got, wanted, offered) in tiers.items():
            if got >= wanted:
                continue
            cell = stats.get("cells", op, tier) or {}
            parts = []
            if offered > got:
                parts.append(f"{offered - got} accepted but held back by the domain cap "
                             f"({cap.get('rows_per_category')} rows a category) or the "
                             "pairs-per-page limit")
            rejected = sorted((cell.get("rejected") or {}).items(), key=lambda kv: -kv[1])
            if cell.get("tried"):
                top = ", ".join(f"{k} {v}" for k, v in rejected[:3]) or "none"
                parts.append(f"{cell['tried']} tried, {cell.get('accepted', 0)} accepted, "
                             f"gate rejections: {top}")
            if cell.get("aimed"):
                landed = ", ".join(f"{k} {v}" for k, v in sorted(
                    cell["aimed"].items(), key=lambda kv: (-kv[1], kv[0])))
                parts.append(f"the tries aimed at it gave: {landed}")
            if cell.get("foreseen"):
                seen = ", ".join(f"{k} {v}" for k, v in sorted(cell["foreseen"].items()))
                parts.append(f"not drawn, foreseen from their layout: {seen}")
            if cell.get("no_candidate"):
                parts.append(f"{cell['no_candidate']} pages had no element it applies to")
            if (op, tier) in exhausted:
                parts.append(exhausted[(op, tier)])
            elif not waves.pages_left:
                parts.append("pages exhausted: every page was used")
            out.setdefault(op, {})[tier] = f"{got} of {wanted}: " + "; ".join(parts)
    return out


def cap_check(waves: Waves, outcomes: dict[int, Outcome]) -> dict[str, Any]:
    """Whether the pages' categories can meet the domain cap: pages in each category (loaded
    pages by their category, pages not yet loaded by the one given, if any) and the rows the cap
    allows them."""
    quota = waves.quota
    planned = {u.index for u in waves.units}
    per_category: Counter[str] = Counter()
    unknown = 0
    for i in waves.order:
        category = (outcomes[i].category if i in outcomes
                    else None if i in planned else waves.pages[i].domain)
        if category is not None:
            per_category[category] += 1
        elif i not in planned:
            unknown += 1  # its category is known once it loads
    cap = quota.domain_cap()
    per_page = quota.max_per_page
    allowed = sum(min(cap, per_page * n) for n in per_category.values()) + per_page * unknown
    capacity = per_page * (sum(per_category.values()) + unknown)  # what no cap would allow
    wanted = quota.total
    return {"rows_per_category": cap if cap != math.inf else None,
            "categories": dict(per_category.most_common()), "pages_unclassified": unknown,
            "rows_allowed": min(allowed, wanted), "rows_wanted": wanted,
            "met": allowed >= min(wanted, capacity)}


def summarize(units: Sequence[PageUnit], run: RunDir, elapsed: float) -> Stats:
    stats = Stats()
    for unit in units:
        stats.merge(Stats(run.read_marker(unit.index)["stats"]))
    stats.data["elapsed_s"] = round(elapsed, 3)
    for key, counter in (("candidates_per_s", "tried"), ("accepted_per_s", "accepted")):
        stats.data[key] = round(stats.get("candidates", counter) / elapsed, 3) if elapsed else 0.0
    return stats


def generate(req: RunRequest, cfg: RunConfig,
             on_progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Run (or resume) generation; returns the stats also written to `out/stats.json`.
    `on_progress(units_finished, pairs_accepted)` is called as units finish."""
    catalogue = load_catalogue(cfg.operator_paths())
    catalogue = {name: catalogue[name] for name in req.quota.operators(sorted(catalogue))}
    Classifier.from_file(cfg.resolve(cfg.crawl.categories))  # a bad file fails here, not in workers
    if req.quota.mechanisms is not None:  # pages try the split's mechanisms, in its shares
        cfg = cfg.model_copy(update={"sampling": cfg.sampling.model_copy(
            update={"mechanisms": req.quota.mechanisms})})
    run = RunDir(req.out, cfg.split)
    run.claim(fingerprint(req, cfg, catalogue))
    waves = Waves(req.pages, req.quota, req.no_diff, cfg.seed, req.unit_quota,
                  cfg.sampling.tries_per_page, cfg.sampling.tries_per_cell)
    progress = on_progress or (lambda units_done, pairs: None)
    setup = WorkerSetup.of(cfg, catalogue, run, req.keep_rejects, req.pages_in_flight,
                           req.quota.tiers(), workers_embed(req.quota, cfg))
    outcomes: dict[int, Outcome] = {}
    browser = "not started (every unit was already done)"
    resumed = 0
    cap = cap_check(waves, outcomes)
    warned = _warn_cap(cap, False)
    distances = RowDistances(cfg.clip, run.ledger / "clip.json")
    settled_by_wave = req.quota.targeted and req.quota.max_per_page == 1
    start = time.perf_counter()
    with ThreadPoolExecutor(1) as embedding:
        embedded: Future | None = None
        while wave := waves.next(outcomes):
            todo = [u for u in embedded_by_workers(wave, req.quota, cfg)
                    if not run.is_done(u.index)]
            resumed += len(wave) - len(todo)
            progress(len(wave) - len(todo), 0)
            if todo and req.executor == "ray":
                browser = run_ray(todo, setup, req.ray_address, progress)
            elif todo:
                browser = WorkerPool(todo, setup, cfg.render.page_budget_s,
                                     progress).run(req.workers)
            outcomes.update((u.index, outcome(run.read_marker(u.index))) for u in wave)
            cap = cap_check(waves, outcomes)
            warned = _warn_cap(cap, warned)
            if settled_by_wave:
                if embedded is not None:
                    embedded.result()
                embedded = embedding.submit(embed_settled, run, list(waves.units), req.quota,
                                            distances)
        if embedded is not None:
            embedded.result()
    units = waves.units
    elapsed = run.add_elapsed(time.perf_counter() - start)
    stats = summarize(units, run, elapsed)
    stats.data["catalogue"] = sorted(catalogue)
    stats.merge(distances.stats)  # what was embedded while the waves ran
    distances.stats = stats
    with stats.timed("finalize"):
        rows, fill, fill_mechanisms = finalize(run, units, req, cfg, distances)
    stats.data.update({
        "requested": {"cells": {"+".join(k): v for k, v in req.quota.cells.items()},
                      "no_diff": req.no_diff, "pages": len(req.pages)},
        "rows": rows, "fill": fill, "short_cells": shortfalls(fill, stats, waves, cap),
        **({"fill_mechanisms": fill_mechanisms} if fill_mechanisms else {}),
        "short_no_diff": max(0, req.no_diff - rows.get("no_diff", 0)), "domain_cap": cap,
        "pages_planned": len(units), "waves": waves.count, "browser": browser,
        "seed": cfg.seed, "split": cfg.split, "resumed_units": resumed,
        "workers": req.workers, "executor": req.executor,
    })
    write_json(req.out / "stats.json", stats.data)
    (req.out / "config.yaml").write_text(yaml.safe_dump(
        {**cfg.model_dump(mode="json"),
         "operator_specs": {n: s.model_dump(mode="json") for n, s in sorted(catalogue.items())}},
        sort_keys=False, allow_unicode=True))
    write_card(req.out, cfg, stats.data)
    return stats.data


def _warn_cap(cap: dict[str, Any], warned: bool) -> bool:
    """Say once, as soon as the pages' categories show it, that the domain cap cannot be met."""
    if warned or cap["met"]:
        return warned
    categories = ", ".join(f"{k} {v}" for k, v in cap["categories"].items())
    log.warning("the domain cap allows %d rows a category, so these pages can give at most %d "
                "of the %d rows wanted (pages per category: %s%s)", cap["rows_per_category"],
                cap["rows_allowed"], cap["rows_wanted"], categories,
                f"; {cap['pages_unclassified']} not yet loaded" if cap["pages_unclassified"]
                else "")
    return True
