"""A generation run: pages become work units, workers turn each unit into a part file in the run
ledger, and the finished parts are cut into the dataset's shards by the quota selection.

Which rows make the dataset depends only on the per-unit results, never on scheduling, so a
resumed run (after a crash or kill -9) gives the same rows as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from spotdiff.config import RunConfig
from spotdiff.export.card import write_card
from spotdiff.export.parquet import schema, write_table
from spotdiff.generator.executors import run_local, run_ray
from spotdiff.generator.ledger import RunDir, write_json
from spotdiff.generator.page_job import PageUnit
from spotdiff.generator.selection import Quota, fill_table, mechanism_fill, select
from spotdiff.generator.stats import Stats
from spotdiff.generator.worker import WorkerSetup
from spotdiff.mutators.catalogue import OperatorSpec, load_catalogue
from spotdiff.records import Page


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


def make_units(req: RunRequest, seed: int) -> list[PageUnit]:
    """One unit per page; the no-diff controls go to a seeded choice of pages."""
    pages = req.pages
    if not pages:
        return []
    order = sorted(range(len(pages)),
                   key=lambda i: zlib.crc32(f"{seed}|{pages[i].identity}".encode()))
    controls = Counter(order[k % len(pages)] for k in range(req.no_diff))
    return [PageUnit(i, page, req.unit_quota, controls[i]) for i, page in enumerate(pages)]


def fingerprint(req: RunRequest, cfg: RunConfig, catalogue: dict[str, OperatorSpec]) -> str:
    material = {
        "pages": [p.identity for p in req.pages], "no_diff": req.no_diff,
        "quota": sorted((list(k), v) for k, v in req.quota.cells.items()),
        "per_page": [req.unit_quota, req.quota.max_per_page, req.quota.max_domain_share],
        # the crawl section and the card's licence do not change what generation makes
        "config": cfg.model_dump(mode="json", exclude={"crawl", "license"}),
        "keep_rejects": req.keep_rejects,
        "operators": {n: s.model_dump(mode="json") for n, s in sorted(catalogue.items())},
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def finalize(run: RunDir, units: Sequence[PageUnit], req: RunRequest, cfg: RunConfig,
             metadata: dict[str, str]) -> tuple[dict[str, int], dict[str, Any], dict[str, Any]]:
    """Select rows by quota and cut the unit parts into shards, streaming part by part."""
    markers = [run.read_marker(u.index) for u in units]
    cells = [[tuple(c) for c in m["visual"]] for m in markers]
    mechanisms = [m["mechanisms"] for m in markers]
    chosen = select(cells, [u.page.domain for u in units], req.quota, mechanisms)
    data_dir = run.out / "data"
    # shards are cut in the ledger and moved into data/ only once all are written, so a
    # failure (a full disk) never leaves data/ with part of a dataset
    staging = run.ledger / "shards"
    for old in staging.glob("*.parquet"):
        old.unlink()
    pending: list[pa.Table] = []
    shards: list[Path] = []

    def flush() -> None:
        table = pa.concat_tables(pending) if pending else schema().empty_table()
        pending.clear()
        path = staging / f"{run.split}-{len(shards):05d}.parquet"
        write_table(table, path, cfg.export.row_group_rows, metadata)
        shards.append(path)

    buffered = 0
    for unit, marker, picks in zip(units, markers, chosen, strict=True):
        table = pq.read_table(run.part(unit.index))
        n_visual = len(marker["visual"])  # visual rows come first in a part, then controls
        keep = [*picks, *range(n_visual, table.num_rows)]
        if keep:
            pending.append(table.take(keep))
            buffered += len(keep)
        if buffered >= cfg.export.shard_rows:
            flush()
            buffered = 0
    if pending or not shards:
        flush()
    data_dir.mkdir(parents=True, exist_ok=True)
    for old in data_dir.glob(f"{run.split}-*.parquet"):
        old.unlink()
    for i, path in enumerate(shards):
        path.replace(data_dir / f"{run.split}-{i:05d}-of-{len(shards):05d}.parquet")
    rows = Counter()
    for f in data_dir.glob(f"{run.split}-*.parquet"):
        rows.update(pq.read_table(f, columns=["task_type"])["task_type"].to_pylist())
    write_rejects_index(run, markers, req.keep_rejects)
    return (dict(rows), fill_table(cells, chosen, req.quota),
            mechanism_fill(mechanisms, chosen, req.quota))


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


def shortfalls(fill: dict[str, dict[str, list[int]]], stats: Stats) -> dict[str, dict[str, str]]:
    """Why each unfilled cell stayed short, from what the pages offered and the gate's verdicts."""
    out: dict[str, dict[str, str]] = {}
    for op, tiers in fill.items():
        op_stats = stats.get("operators", op) or {}
        rejected = sorted((op_stats.get("rejected") or {}).items(), key=lambda kv: -kv[1])
        for tier, (got, wanted, offered) in tiers.items():
            if got >= wanted:
                continue
            if not op_stats.get("tried"):
                why = "no page had an element this operator applies to"
            elif offered > got:
                why = f"{offered} accepted but held back by the per-page or domain caps"
            else:
                top = ", ".join(f"{k} {v}" for k, v in rejected[:2]) or "none"
                why = (f"only {offered} accepted in this tier; {op_stats['tried']} tried, "
                       f"top rejections: {top}")
            out.setdefault(op, {})[tier] = why
    return out


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
    if req.quota.mechanisms is not None:  # pages try the split's mechanisms, in its shares
        cfg = cfg.model_copy(update={"sampling": cfg.sampling.model_copy(
            update={"mechanisms": req.quota.mechanisms})})
    run = RunDir(req.out, cfg.split)
    run.claim(fingerprint(req, cfg, catalogue))
    units = make_units(req, cfg.seed)
    todo = [u for u in units if not run.is_done(u.index)]
    progress = on_progress or (lambda units_done, pairs: None)
    progress(len(units) - len(todo), 0)
    start = time.perf_counter()
    browser = "not started (every unit was already done)"
    if todo:
        setup = WorkerSetup.of(cfg, catalogue, run, req.keep_rejects, req.pages_in_flight,
                               req.quota.tiers())
        if req.executor == "ray":
            browser = run_ray(todo, setup, req.ray_address, progress)
        else:
            browser = run_local(todo, setup, req.workers, cfg.render.page_budget_s, progress)
    elapsed = run.add_elapsed(time.perf_counter() - start)
    stats = summarize(units, run, elapsed)
    metadata = {"spotdiff": json.dumps({
        "seed": cfg.seed, "split": cfg.split, "operators": sorted(catalogue),
        "clip_models": sorted(stats.get("clip_models") or {})})}
    with stats.timed("finalize"):
        rows, fill, fill_mechanisms = finalize(run, units, req, cfg, metadata)
    stats.data.update({
        "requested": {"cells": {"+".join(k): v for k, v in req.quota.cells.items()},
                      "no_diff": req.no_diff, "pages": len(req.pages)},
        "rows": rows, "fill": fill, "short_cells": shortfalls(fill, stats), "browser": browser,
        **({"fill_mechanisms": fill_mechanisms} if fill_mechanisms else {}),
        "seed": cfg.seed, "split": cfg.split, "resumed_units": len(units) - len(todo),
        "workers": req.workers, "executor": req.executor,
    })
    write_json(req.out / "stats.json", stats.data)
    (req.out / "config.yaml").write_text(yaml.safe_dump(
        {**cfg.model_dump(mode="json"),
         "operator_specs": {n: s.model_dump(mode="json") for n, s in sorted(catalogue.items())}},
        sort_keys=False, allow_unicode=True))
    write_card(req.out, cfg, stats.data)
    return stats.data
