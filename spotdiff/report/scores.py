"""The report's scores section, read from the `scores.json` files `spotdiff eval score` wrote
under DATASET/eval/: DiffSpot's six numbers per model, a recall heat map per operator × tier,
and each model's answer to each pair for the gallery and the viewer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure

from spotdiff.records import TIERS
from spotdiff.report.plots import DPI

HEADLINE = [("Easy", ("recall", "easy")), ("Medium", ("recall", "medium")),
            ("Hard", ("recall", "hard")), ("Diff recall", ("recall", "diff")),
            ("No-Diff specificity", ("no_diff_specificity",)),
            ("Overall accuracy", ("overall_accuracy",))]
RECALL = LinearSegmentedColormap.from_list("recall", ["#c0392b", "#f4d35e", "#2a9d8f"])


def read_scores(dataset_dir: Path) -> list[dict[str, Any]]:
    """Every DATASET/eval/*/scores.json, in name order."""
    return [json.loads(p.read_text(encoding="utf-8"))
            for p in sorted((dataset_dir / "eval").glob("*/scores.json"))]


def _rate(rate: dict[str, Any]) -> str:
    if rate["value"] is None:
        return "–"
    return f"{100 * rate['value']:.1f}% ({rate['hits']}/{rate['n']})"


def headline_rows(scores: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    header = ["model", "judge", *(name for name, _ in HEADLINE), "scored"]
    rows = []
    for s in scores:
        cells = []
        for _, path in HEADLINE:
            node = s
            for key in path:
                node = node[key]
            cells.append(_rate(node))
        rows.append([s["model"], s["judge_model"], *cells,
                     f"{s['pairs_scored']} / {s['pairs_in_dataset']}"])
    return header, rows


def recall_heatmap(s: dict[str, Any], path: Path) -> bool:
    """Recall per operator (rows) × tier (columns), each cell with its hits/n. False when the
    model was scored on no has-diff pair."""
    table = s["by_operator_tier"]
    operators = sorted(table)
    if not operators:
        return False
    values = np.array([[table[op][t]["value"] if t in table[op] and table[op][t]["value"] is
                        not None else np.nan for t in TIERS] for op in operators], dtype=float)
    fig = Figure(figsize=(5.2, 0.32 * len(operators) + 1.2))
    ax = fig.subplots()
    image = ax.imshow(np.ma.masked_invalid(values), cmap=RECALL, vmin=0, vmax=1, aspect="auto")
    for i, op in enumerate(operators):
        for j, tier in enumerate(TIERS):
            cell = table[op].get(tier)
            if cell:
                ax.text(j, i, f"{cell['hits']}/{cell['n']}", ha="center", va="center",
                        fontsize=7.5, color="#102a43")
    ax.set_xticks(range(len(TIERS)), TIERS, fontsize=8)
    ax.set_yticks(range(len(operators)), operators, fontsize=8)
    ax.set_facecolor("#eef2f6")
    ax.tick_params(length=0)
    ax.set_title(f"{s['model']}: recall per operator × tier", fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.05, pad=0.02).ax.tick_params(labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    return True


def answers_by_pair(scores: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """pair id → each model's answer, whether it was a hit, and the judge's verdicts."""
    out: dict[str, list[dict[str, Any]]] = {}
    for s in scores:
        for item in s["items"]:
            out.setdefault(item["id"], []).append({
                "model": s["model"], "prediction": item["prediction"], "hit": item["hit"],
                "verdicts": item["verdicts"], "hallucinations": item["hallucinations"],
                "outcome": item["outcome"]})
    return out
