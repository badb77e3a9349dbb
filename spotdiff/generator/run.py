"""A generation run: pages become work units, each unit's rows land in a part file, and the parts
are finally cut into the dataset's shards.

The run directory is the ledger: a unit whose stats file exists is finished (its part was written
first, atomically), so re-running the same command resumes with no lost and no duplicated rows.
Which rows make the dataset depends only on the per-unit results, never on timing, so a resumed
run gives the same rows as an uninterrupted one.
"""

from __future__ import annotations

import asyncio
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
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from spotdiff.config import RunConfig
from spotdiff.export.parquet import schema, write_rows, write_table
from spotdiff.export.rows import to_row
from spotdiff.generator.page_job import PageJob, PageResult, PageUnit
from spotdiff.generator.stats import Stats
from spotdiff.mutators.catalogue import OperatorSpec, load_catalogue
from spotdiff.records import Page
from spotdiff.renderer.session import Renderer


class RunMismatch(RuntimeError):
    """The output directory holds a run with different inputs."""


@dataclass(frozen=True)
class RunRequest:
    pages: Sequence[Page]
    out: Path
    pairs: int
    no_diff: int
    pages_in_flight: int = 2


def make_units(pages: Sequence[Page], pairs: int, no_diff: int, cfg: RunConfig) -> list[PageUnit]:
    """Spread the requested pairs over the pages with a little slack (some pages give less), and
    the no-diff controls over a seeded choice of pages."""
    if not pages:
        return []
    quota = min(cfg.sampling.max_pairs_per_page, math.ceil(pairs / len(pages)) + 1) if pairs else 0
    order = sorted(range(len(pages)),
                   key=lambda i: zlib.crc32(f"{cfg.seed}|{pages[i].identity}".encode()))
    controls = Counter(order[k % len(pages)] for k in range(no_diff))
    return [PageUnit(i, page, quota, controls[i]) for i, page in enumerate(pages)]


def take_round_robin(counts: Sequence[int], total: int) -> list[int]:
    """How many rows to take from each unit: one from each in turn until `total` is reached."""
    taken = [0] * len(counts)
    remaining = total
    for level in range(max(counts, default=0)):
        for i, count in enumerate(counts):
            if remaining == 0:
                return taken
            if count > level:
                taken[i] += 1
                remaining -= 1
    return taken


class RunDir:
    def __init__(self, out: Path, split: str):
        self.out = out
        self.split = split
        self.ledger = out / ".run"
        self.units = self.ledger / "units"

    def part(self, index: int) -> Path:
        return self.units / f"unit-{index:06d}.parquet"

    def done_marker(self, index: int) -> Path:
        return self.units / f"unit-{index:06d}.json"

    def claim(self, fingerprint: str) -> None:
        self.units.mkdir(parents=True, exist_ok=True)
        marker = self.ledger / "run.json"
        if marker.exists():
            if json.loads(marker.read_text())["fingerprint"] != fingerprint:
                raise RunMismatch(f"{self.out} holds a run with other pages, counts or config; "
                                  "use another --out or remove it")
        else:
            _write_json(marker, {"fingerprint": fingerprint})


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))
    tmp.replace(path)


def fingerprint(req: RunRequest, cfg: RunConfig, catalogue: dict[str, OperatorSpec]) -> str:
    material = {
        "pages": [p.identity for p in req.pages], "pairs": req.pairs, "no_diff": req.no_diff,
        "config": cfg.model_dump(mode="json"),
        "operators": {n: s.model_dump(mode="json") for n, s in sorted(catalogue.items())},
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def save_unit(run: RunDir, result: PageResult, templates: dict[str, str], cfg: RunConfig) -> None:
    rows = [to_row(pair, templates) for pair in result.pairs]
    with result.stats.timed("write"):
        write_rows(rows, run.part(result.unit.index), cfg.export.row_group_rows)
    counts = Counter(row["task_type"] for row in rows)
    _write_json(run.done_marker(result.unit.index), {"rows": dict(counts),
                                                     "stats": result.stats.data})


async def _run_units(units: Sequence[PageUnit], run: RunDir, cfg: RunConfig,
                     catalogue: dict[str, OperatorSpec], in_flight: int,
                     on_done: Callable[[PageResult], None]) -> str:
    templates = {name: spec.template for name, spec in catalogue.items()}
    queue: asyncio.Queue[PageUnit] = asyncio.Queue()
    for unit in units:
        queue.put_nowait(unit)
    async with Renderer(cfg.browser, cfg.render) as renderer:
        job = PageJob(renderer, catalogue, cfg)

        async def worker() -> None:
            while not queue.empty():
                unit = queue.get_nowait()
                try:
                    result = await asyncio.wait_for(job.run(unit), cfg.render.page_budget_s)
                except asyncio.TimeoutError:
                    result = PageResult(unit)
                    result.stats.count("pages", "total")
                    result.stats.count("pages", "skipped", "page_budget_exceeded")
                save_unit(run, result, templates, cfg)
                on_done(result)

        await asyncio.gather(*(worker() for _ in range(max(1, in_flight))))
        return renderer.choice.describe() if renderer.choice else "unknown"


def finalize(run: RunDir, units: Sequence[PageUnit], pairs: int, cfg: RunConfig,
             metadata: dict[str, str]) -> dict[str, int]:
    """Cut the unit parts into shards: visual rows round-robin across pages, every control."""
    done = [json.loads(run.done_marker(u.index).read_text())["rows"] for u in units]
    take = take_round_robin([d.get("visual_diff", 0) for d in done], pairs)
    data_dir = run.out / "data"
    for old in data_dir.glob(f"{run.split}-*.parquet"):
        old.unlink()
    pending: list[pa.Table] = []
    shards: list[Path] = []

    def flush() -> None:
        table = pa.concat_tables(pending)
        pending.clear()
        path = data_dir / f"{run.split}-{len(shards):05d}.parquet"
        write_table(table, path, cfg.export.row_group_rows, metadata)
        shards.append(path)

    buffered = 0
    for unit, n_visual in zip(units, take, strict=False):
        table = pq.read_table(run.part(unit.index))
        keep = pc.or_(
            pc.equal(table["task_type"], "no_diff"),
            pa.array([i < n_visual for i in range(table.num_rows)]),
        )
        table = table.filter(keep)
        if table.num_rows:
            pending.append(table)
            buffered += table.num_rows
        if buffered >= cfg.export.shard_rows:
            flush()
            buffered = 0
    if pending or not shards:
        if not pending:
            pending.append(schema().empty_table())
        flush()
    total = len(shards)
    for i, path in enumerate(shards):
        path.replace(path.with_name(f"{run.split}-{i:05d}-of-{total:05d}.parquet"))
    written = Counter()
    for f in data_dir.glob(f"{run.split}-*.parquet"):
        written.update(pq.read_table(f, columns=["task_type"])["task_type"].to_pylist())
    return dict(written)


def summarize(units: Sequence[PageUnit], run: RunDir, elapsed: float) -> Stats:
    stats = Stats()
    for unit in units:
        stats.merge(Stats(json.loads(run.done_marker(unit.index).read_text())["stats"]))
    stats.data["elapsed_s"] = round(elapsed, 3)
    tried = stats.get("candidates", "tried")
    accepted = stats.get("candidates", "accepted")
    stats.data["candidates_per_s"] = round(tried / elapsed, 3) if elapsed else 0.0
    stats.data["accepted_per_s"] = round(accepted / elapsed, 3) if elapsed else 0.0
    return stats


def generate(req: RunRequest, cfg: RunConfig,
             on_progress: Callable[[PageResult | None, int], None] | None = None) -> dict[str, Any]:
    """Run (or resume) generation; returns the stats also written to `out/stats.json`."""
    catalogue = load_catalogue(cfg.operator_paths())
    run = RunDir(req.out, cfg.split)
    run.claim(fingerprint(req, cfg, catalogue))
    units = make_units(req.pages, req.pairs, req.no_diff, cfg)
    todo = [u for u in units if not run.done_marker(u.index).exists()]
    if on_progress:
        on_progress(None, len(units) - len(todo))
    start = time.perf_counter()
    browser = "not started (every unit was already done)"
    if todo:
        browser = asyncio.run(_run_units(
            todo, run, cfg, catalogue, req.pages_in_flight,
            lambda result: on_progress(result, 1) if on_progress else None))
    elapsed = time.perf_counter() - start
    stats = summarize(units, run, elapsed)
    metadata = {"spotdiff": json.dumps({"seed": cfg.seed, "split": cfg.split,
                                        "operators": sorted(catalogue)})}
    with stats.timed("finalize"):
        rows = finalize(run, units, req.pairs, cfg, metadata)
    stats.data.update({
        "requested": {"pairs": req.pairs, "no_diff": req.no_diff, "pages": len(req.pages)},
        "rows": rows, "browser": browser, "seed": cfg.seed, "split": cfg.split,
        "resumed_units": len(units) - len(todo),
    })
    _write_json(req.out / "stats.json", stats.data)
    (req.out / "config.yaml").write_text(yaml.safe_dump(
        {**cfg.model_dump(mode="json"),
         "operator_specs": {n: s.model_dump(mode="json") for n, s in sorted(catalogue.items())}},
        sort_keys=False, allow_unicode=True))
    return stats.data
