"""Calibration: how visual magnitude falls across tiers, per operator, in a finished dataset.

Per operator × tier: median, p10 and p90 of pixel_diff, target_diff, SSIM, clip_distance and
the measured visibility, plus whether the medians fall from easy to hard; per operator, the
visibility tertiles over all its pairs (the `visibility.bounds` that split them into three
equal tiers); written as calibration.json and a plot.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from spotdiff.records import TIERS

MEASURES = ("pixel_diff", "target_diff", "ssim", "clip_distance", "visibility")
# a larger change gives a larger diff, distance and visibility, but a smaller SSIM
FALLING = {"pixel_diff": 1, "target_diff": 1, "ssim": -1, "clip_distance": 1, "visibility": 1}


def _visibility(mutation_dicts: list[str]) -> tuple[str, float]:
    """The least visible mutation's (measure, value); rows written before it was measured: nan."""
    measured = [d["visibility"] for d in map(json.loads, mutation_dicts) if d.get("visibility")]
    if not measured:
        return "", float("nan")
    least = min(measured, key=lambda v: v["value"])
    return least["measure"], float(least["value"])


def calibrate(dataset: Path) -> dict[str, Any]:
    files = sorted((dataset / "data").glob("*.parquet"))
    columns = ["operator", "difficulty", "task_type", "mutation_dicts_json", *MEASURES[:-1]]
    rows = [r for r in pq.read_table(files, columns=columns).to_pylist()
            if r["task_type"] == "visual_diff"]
    for r in rows:
        r["visibility_measure"], r["visibility"] = _visibility(r.pop("mutation_dicts_json"))
    table: dict[str, Any] = {}
    for op in sorted({r["operator"] for r in rows}):
        entry: dict[str, Any] = {}
        mine = [r for r in rows if r["operator"] == op]
        measured = np.array([r["visibility"] for r in mine], dtype=float)
        if not np.isnan(measured).all():
            lo, hi = np.nanpercentile(measured, [100 / 3, 200 / 3])
            entry["visibility_bounds"] = {"measure": mine[0]["visibility_measure"],
                                          "tertiles": [float(lo), float(hi)],
                                          "min": float(np.nanmin(measured)), "n": len(mine)}
        for tier in TIERS:
            values = [r for r in rows if r["operator"] == op and r["difficulty"] == tier]
            if not values:
                continue
            entry[tier] = {"n": len(values)}
            for m in MEASURES:
                data = np.array([r[m] for r in values], dtype=float)
                p10, median, p90 = np.percentile(data, [10, 50, 90])
                entry[tier][m] = {"p10": p10, "median": median, "p90": p90}
        for m in MEASURES:
            medians = [entry[t][m]["median"] * FALLING[m] for t in TIERS
                       if t in entry and not np.isnan(entry[t][m]["median"])]
            entry.setdefault("falls_easy_to_hard", {})[m] = (
                len(medians) > 1 and all(a >= b for a, b in itertools.pairwise(medians)))
        table[op] = entry
    (dataset / "calibration.json").write_text(json.dumps(table, indent=2))
    _plot(table, dataset / "calibration.png")
    return table


def _plot(table: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from cycler import cycler

    fig, axes = plt.subplots(1, 2, figsize=(14, 4.5))
    # more operators than colours: a second line style keeps every line told apart
    styles = cycler(linestyle=["-", "--"]) * cycler(color=plt.get_cmap("tab20").colors)
    for ax, measure in zip(axes, ("pixel_diff", "clip_distance"), strict=True):
        ax.set_prop_cycle(styles)
        for op, entry in table.items():
            tiers = [t for t in TIERS if t in entry]
            ax.plot(tiers, [entry[t][measure]["median"] for t in tiers], marker="o", label=op)
        ax.set_yscale("symlog", linthresh=1e-5)
        ax.set_title(f"median {measure} by tier")
    axes[1].legend(fontsize=7, ncol=2, bbox_to_anchor=(1.02, 1), loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
