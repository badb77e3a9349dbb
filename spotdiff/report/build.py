"""`build_report`: the static report of a dataset directory written by `spotdiff generate`.

It opens from disk with no server and no network: images are files under `img/`, figures are
PNGs beside index.html, and the pair metadata is a script (`pairs.js`) that sets a global,
since browsers refuse fetch() on file:// pages. The gallery is drawn by the page itself, a page
of pairs at a time, so the HTML stays small for any number of rows.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import time
from collections.abc import Iterator
from importlib.resources import files
from itertools import chain
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader

from spotdiff.report import dataset, plots, scores, summary
from spotdiff.report.images import write_pair

HERE = Path(str(files("spotdiff.report")))
METRICS = ("pixel_diff", "target_diff", "outside_diff", "clip_distance", "ssim", "ssim_target")
REJECTS_PER_REASON = 12
Job = tuple[Path, str, bytes, bytes]


def _metrics(source: dict[str, Any]) -> dict[str, float]:
    # clip_distance is null when the embedding was off (-1 in older datasets)
    return {k: float(f"{source[k]:.4g}") for k in METRICS
            if source.get(k) is not None and source[k] >= 0}


def _boxes(row: dict[str, Any], mutations: list[dict[str, Any]]) -> list[list[int]]:
    boxes = [m["bbox"] for m in mutations if m.get("bbox")]
    target = [row[f"target_bbox_{k}"] for k in "xywh"]
    return boxes or ([target] if target[2] > 0 else [])


def _pair(stem: str, row: dict[str, Any]) -> dict[str, Any]:
    mutations = [json.loads(m) for m in row["mutation_dicts_json"]]
    return {"stem": stem, "sentence": row["ground_truth_diff"], "mutations": mutations,
            "metrics": _metrics(row), "boxes": _boxes(row, mutations),
            **{k: row[k] for k in ("id", "split", "operator", "difficulty", "domain",
                                   "task_type", "language", "url")}}


def _sample_rejects(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, int] = {}
    out = []
    for k, e in enumerate(entries):
        seen[e["reason"]] = seen.get(e["reason"], 0) + 1
        if seen[e["reason"]] <= REJECTS_PER_REASON:
            out.append({**e, "stem": f"r{k:04d}", "boxes": [e["box"]] if e.get("box") else [],
                        "metrics": _metrics(e.get("metrics", {}))})
    return out


def _jobs(dataset_dir: Path, img_dir: Path, rejects: list[dict[str, Any]]) -> Iterator[Job]:
    pairs = chain.from_iterable(dataset.iter_images(dataset_dir))
    for k, (before, after) in enumerate(pairs):
        yield img_dir, f"p{k:05d}", before, after
    for e in rejects:
        yield (img_dir, e["stem"], (dataset_dir / e["before"]).read_bytes(),
               (dataset_dir / e["after"]).read_bytes())


def _plots(rows: list[dict[str, Any]], stats: dict[str, Any],
           out_dir: Path) -> list[tuple[str, str]]:
    """The figures drawn, as (caption, file name)."""
    made = []
    if plots.measures_plot(rows, out_dir / "measures.png"):
        made.append(("Change measures per operator and tier (one dot per pair; symlog scale)",
                     "measures.png"))
    if plots.acceptance_plot(stats.get("operators", {}), out_dir / "acceptance.png"):
        made.append(("Gate outcome per operator (accepted / tried at the right)",
                     "acceptance.png"))
    return made


def build_report(dataset_dir: Path, out_dir: Path | None = None, page_size: int = 48,
                 workers: int | None = None) -> Path:
    """Write the report of `dataset_dir` into `out_dir` (default `dataset_dir/report`) with
    `page_size` pairs per gallery page, encoding images on `workers` processes (default: one
    per CPU); returns the path of index.html."""
    start = time.perf_counter()
    out_dir = out_dir or dataset_dir / "report"
    img_dir = out_dir / "img"
    if (out_dir / "pairs.js").exists():  # an earlier report: drop images of rows now gone
        shutil.rmtree(img_dir, ignore_errors=True)
    img_dir.mkdir(parents=True, exist_ok=True)
    rows = dataset.read_rows(dataset_dir)
    stats = dataset.read_stats(dataset_dir)
    config_text, config = dataset.read_config(dataset_dir)
    gate = config.get("gate") or {}
    rejects = _sample_rejects(dataset.read_rejects(dataset_dir))
    pairs = [_pair(f"p{k:05d}", row) for k, row in enumerate(rows)]
    model_scores = scores.read_scores(dataset_dir)
    answers = scores.answers_by_pair(model_scores)
    for pair in pairs:
        pair["answers"] = answers.get(pair["id"], [])

    n_jobs = len(pairs) + len(rejects)
    processes = max(1, min(workers or os.cpu_count() or 1, -(-n_jobs // 4)))
    with mp.get_context("spawn").Pool(processes) as pool:
        # the pool's feeder reads and sends images while this process draws the figures
        sizes = pool.imap(write_pair, _jobs(dataset_dir, img_dir, rejects), chunksize=4)
        figures = _plots(rows, stats, out_dir)
        heatmaps = [(f"Recall per operator × tier, {s['model']} (found / made per cell)",
                     f"recall-{k}.png") for k, s in enumerate(model_scores)
                    if scores.recall_heatmap(s, out_dir / f"recall-{k}.png")]
        for item, size in zip(chain(pairs, rejects), sizes, strict=True):
            item["size"] = size

    data = {"pageSize": page_size, "pairs": pairs, "rejects": rejects, "gate": gate,
            "rejectTotals": stats.get("candidates", {}).get("rejected", {})}
    (out_dir / "pairs.js").write_text(
        "window.SPOTDIFF = " + json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        + ";\n", encoding="utf-8")
    env = Environment(loader=FileSystemLoader(HERE), autoescape=True)
    page = env.get_template("index.html.j2").render(
        title=dataset_dir.resolve().name, facts=summary.facts(rows, stats),
        operators=summary.operator_table(rows, stats),
        tables=summary.count_tables(rows, stats), versions=summary.versions(stats),
        figures=figures, config=config_text, gate=gate,
        scores=scores.headline_rows(model_scores) if model_scores else None, heatmaps=heatmaps,
        has_rejects=bool(rejects), built_s=f"{time.perf_counter() - start:.1f}",
        css=(HERE / "report.css").read_text(), js=(HERE / "report.js").read_text())
    index = out_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    return index
