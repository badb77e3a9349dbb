"""A static HTML report of a dataset: summary, plots, a filterable gallery of every pair
(before | after | diff heat map with the target box) and a sample of rejected candidates.

It opens from disk with no server and no network: images are files beside index.html and the
pair metadata is a script (`pairs.js`), since browsers refuse fetch() on file:// pages.
"""

from __future__ import annotations

import contextlib
import html
import io
import json
import platform
import time
from collections import Counter
from importlib import metadata
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from PIL import Image, ImageDraw, ImageFilter

THUMB_WIDTH = 360
TEMPLATE = Path(__file__).with_name("report.html")


def _open(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png)).convert("RGB")


def _heat(grey: np.ndarray, changed: np.ndarray) -> Image.Image:
    """Changed pixels in red over a dimmed grey copy of the before image."""
    out = np.stack([grey, grey, grey], axis=2)
    out[changed] = [255, 40, 40]
    return Image.fromarray(out.astype(np.uint8))


def _draw_box(image: Image.Image, box: list[int], scale: float) -> None:
    if box[2] <= 0:
        return
    x, y, w, h = (v * scale for v in box)
    ImageDraw.Draw(image).rectangle([x - 2, y - 2, x + w + 2, y + h + 2], outline=(0, 200, 255),
                                    width=2)


def render_pair(job: tuple[Path, str, bytes, bytes, list[int]]) -> None:
    """Full-size JPEGs for the viewer, thumbnails and a diff heat map for the gallery."""
    img_dir, stem, before_png, after_png, box = job
    before, after = _open(before_png), _open(after_png)
    scale = THUMB_WIDTH / before.width
    size = (THUMB_WIDTH, round(before.height * scale))
    for name, image in (("before", before), ("after", after)):
        image.save(img_dir / f"{stem}-{name}.jpg", quality=88)
        thumb = image.resize(size, Image.Resampling.LANCZOS)
        _draw_box(thumb, box, scale)
        thumb.save(img_dir / f"{stem}-{name}-t.jpg", quality=82)
    grey = np.asarray(before.convert("L"), np.float32) * 0.35 + 40
    changed = np.any(np.asarray(before) != np.asarray(after), axis=2)
    _heat(grey, changed).save(img_dir / f"{stem}-diff.png")
    # widened so that a one-pixel change survives shrinking to a thumbnail
    wide = Image.fromarray(changed.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(7))
    heat_thumb = _heat(grey, np.asarray(wide) > 0).resize(size, Image.Resampling.BOX)
    _draw_box(heat_thumb, box, scale)
    heat_thumb.save(img_dir / f"{stem}-diff-t.png")


def _rows(dataset: Path) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted((dataset / "data").glob("*.parquet")):
        split = path.name.rsplit("-", 3)[0]
        for batch in pq.ParquetFile(path).iter_batches(batch_size=64):
            out.extend((split, row) for row in batch.to_pylist())
    return out


def _plots(rows: list[dict[str, Any]], stats: dict[str, Any], out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    visual = [r for r in rows if r["task_type"] == "visual_diff"]
    files = []
    measures = [m for m in ("pixel_diff", "target_diff", "outside_diff", "clip_distance")
                if visual and m in visual[0]]
    operators = sorted({r["operator"] for r in visual})
    tiers = ["easy", "medium", "hard"]
    colours = {"easy": "#2a9d8f", "medium": "#e9c46a", "hard": "#e76f51"}
    for measure in measures:
        fig, ax = plt.subplots(figsize=(12, 3.6))
        for t, tier in enumerate(tiers):
            data = [[r[measure] for r in visual if r["operator"] == op and r["difficulty"] == tier]
                    for op in operators]
            positions = [i * 4 + t for i in range(len(operators))]
            kept = [(p, d) for p, d in zip(positions, data, strict=True) if d]
            if kept:
                parts = ax.boxplot([d for _, d in kept], positions=[p for p, _ in kept],
                                   widths=0.8, patch_artist=True, showfliers=False)
                for patch in parts["boxes"]:
                    patch.set_facecolor(colours[tier])
        ax.set_xticks([i * 4 + 1 for i in range(len(operators))], operators, rotation=60,
                      ha="right", fontsize=8)
        ax.set_yscale("symlog", linthresh=1e-4)
        ax.set_title(f"{measure} per operator and tier (easy, medium, hard)")
        fig.tight_layout()
        name = f"plot-{measure}.png"
        fig.savefig(out / name, dpi=90)
        plt.close(fig)
        files.append(name)
    ops = stats.get("operators", {})
    if ops:
        names = sorted(ops)
        rates = [ops[n].get("accepted", 0) / ops[n]["tried"] if ops[n].get("tried") else 0
                 for n in names]
        fig, ax = plt.subplots(figsize=(12, 3.2))
        ax.bar(names, rates, color="#0b6e4f")
        ax.set_ylim(0, 1)
        ax.set_title("acceptance rate per operator (accepted / tried)")
        ax.tick_params(axis="x", rotation=60, labelsize=8)
        fig.tight_layout()
        fig.savefig(out / "plot-acceptance.png", dpi=90)
        plt.close(fig)
        files.append("plot-acceptance.png")
    return files


def _table(title: str, counts: dict[str, Any]) -> str:
    body = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{v}</td></tr>"
                   for k, v in sorted(counts.items(), key=lambda kv: str(kv[0])))
    return f"<div class='tbl'><h3>{html.escape(title)}</h3><table>{body}</table></div>"


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in ("spotdiff", "playwright", "pyarrow", "pillow"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


def _rejects(dataset: Path, img_dir: Path) -> list[dict[str, Any]]:
    index = dataset / "rejects" / "index.jsonl"
    if not index.exists():
        return []
    entries = [json.loads(line) for line in index.read_text().splitlines() if line.strip()]
    jobs = []
    for k, e in enumerate(entries):
        stem = f"reject-{k:04d}"
        jobs.append((img_dir, stem, (dataset / e["before"]).read_bytes(),
                     (dataset / e["after"]).read_bytes(), e["box"]))
        e["stem"] = stem
    with Pool(2) as pool:
        pool.map(render_pair, jobs)
    return entries


def build_report(dataset: Path, out: Path | None = None) -> Path:
    """Write `<dataset>/report/index.html` (or into `out`); returns the index path."""
    start = time.perf_counter()
    out = out or dataset / "report"
    img_dir = out / "img"
    img_dir.mkdir(parents=True, exist_ok=True)
    stats_file, config_file = dataset / "stats.json", dataset / "config.yaml"
    stats = json.loads(stats_file.read_text()) if stats_file.exists() else {}
    config = config_file.read_text() if config_file.exists() else ""
    split_rows = _rows(dataset)
    pairs, jobs = [], []
    for k, (split, row) in enumerate(split_rows):
        stem = f"pair-{k:05d}"
        box = [row["target_bbox_x"], row["target_bbox_y"], row["target_bbox_w"],
               row["target_bbox_h"]]
        jobs.append((img_dir, stem, row["image_before"]["bytes"], row["image_after"]["bytes"], box))
        pairs.append({
            "stem": stem, "id": row["id"], "split": split, "operator": row["operator"],
            "difficulty": row["difficulty"], "domain": row["domain"],
            "task_type": row["task_type"], "language": row["language"], "url": row["url"],
            "sentence": row["ground_truth_diff"],
            "mutations": [json.loads(d) for d in row["mutation_dicts_json"]],
            "metrics": {m: round(row[m], 6) for m in ("pixel_diff", "target_diff",
                                                      "outside_diff", "clip_distance")
                        if row.get(m) is not None},
        })
    with Pool(2) as pool:
        pool.map(render_pair, jobs, chunksize=4)
    rejects = _rejects(dataset, img_dir)
    rows = [row for _, row in split_rows]
    plots = _plots(rows, stats, out)
    (out / "pairs.js").write_text(
        "window.PAIRS = " + json.dumps(pairs, ensure_ascii=False) + ";\n"
        + "window.REJECTS = " + json.dumps(rejects, ensure_ascii=False) + ";\n")
    counts = {
        "pairs per split": Counter(p["split"] for p in pairs),
        "pairs per tier": Counter(p["difficulty"] for p in pairs),
        "pairs per operator": Counter(p["operator"] for p in pairs),
        "pairs per domain": Counter(p["domain"] for p in pairs),
        "pairs per language": Counter(p["language"] for p in pairs),
        "candidates": {k: v for k, v in stats.get("candidates", {}).items()
                       if not isinstance(v, dict)},
        "rejections by reason": stats.get("candidates", {}).get("rejected", {}),
        "pages": {k: v for k, v in stats.get("pages", {}).items() if not isinstance(v, dict)},
        "pages skipped by reason": stats.get("pages", {}).get("skipped", {}),
        "versions": _versions(),
    }
    summary = "".join(_table(title, dict(c)) for title, c in counts.items())
    page = TEMPLATE.read_text(encoding="utf-8")
    page = (page.replace("{{TITLE}}", html.escape(dataset.resolve().name))
                .replace("{{SUMMARY}}", summary)
                .replace("{{PLOTS}}", "".join(f"<img src='{p}' alt='{p}'>" for p in plots))
                .replace("{{CONFIG}}", html.escape(config))
                .replace("{{RATES}}", html.escape(
                    f"{stats.get('candidates_per_s', 0)} candidates/s · "
                    f"{stats.get('accepted_per_s', 0)} accepted pairs/s · "
                    f"built in {time.perf_counter() - start:.1f} s")))
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    return index
