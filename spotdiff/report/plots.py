"""The report's figures: change measures per operator and tier, acceptance per operator."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

MEASURES = ("pixel_diff", "target_diff", "outside_diff", "clip_distance")
TIERS = {"easy": ("#2a9d8f", -0.25), "medium": ("#e09f3e", 0.0), "hard": ("#c0392b", 0.25),
         "no_diff": ("#7f8c9d", 0.0)}
REASON_COLOURS = ["#c0392b", "#e09f3e", "#8e6cc0", "#3f7cac", "#7f8c9d", "#b5651d"]
DPI = 110


def _shade_rows(ax: Any, n: int) -> None:
    for y in range(0, n, 2):
        ax.axhspan(y - 0.5, y + 0.5, color="#f1f4f8", zorder=0)


def measures_plot(rows: list[dict[str, Any]], path: Path) -> bool:
    """One panel per measure, one line per operator (and one for all), a dot per pair coloured
    by tier (quartiles and median where a tier has five pairs or more). False when nothing to
    plot."""
    measures = [m for m in MEASURES if any(r.get(m) is not None and r[m] >= 0 for r in rows)]
    if not measures:
        return False
    operators = sorted({r["operator"] for r in rows}, key=lambda o: (o == "none", o))
    lines = ["all operators", *operators]
    line = {label: k for k, label in enumerate(lines)}
    groups: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        for label in ("all operators", r["operator"]):
            groups[line[label], r["difficulty"]].append(r)
    fig = Figure(figsize=(3 * len(measures) + 1.5, 0.3 * len(lines) + 1.4))
    axes = fig.subplots(1, len(measures), sharey=True, squeeze=False)[0]
    rng = np.random.default_rng(0)
    for ax, measure in zip(axes, measures, strict=True):
        _shade_rows(ax, len(lines))
        for (line, tier), members in groups.items():
            colour, offset = TIERS.get(tier, TIERS["no_diff"])
            # clip_distance is null when the embedding was off (-1 in older datasets)
            xs = [r[measure] for r in members if r.get(measure) is not None and r[measure] >= 0]
            if not xs:
                continue
            y = line + offset
            if len(xs) >= 5:
                q25, median, q75 = np.percentile(xs, [25, 50, 75])
                ax.hlines(y, q25, q75, color=colour, linewidth=6, alpha=0.3, zorder=2)
                ax.plot([median], [y], marker="|", markersize=11, color=colour, zorder=4)
            ax.scatter(xs, y + rng.uniform(-0.07, 0.07, len(xs)), s=12, color=colour,
                       alpha=0.75, linewidths=0, zorder=3)
        ax.set_xscale("symlog", linthresh=1e-6)
        ax.set_xlim(left=-2e-7)  # dots at 0 clear of the axis
        ax.set_title(measure, fontsize=10)
        ax.tick_params(labelsize=8)
        ax.grid(axis="x", color="#dde3ea", linewidth=0.6)
    axes[0].set_yticks(range(len(lines)), lines)
    axes[0].get_yticklabels()[0].set_fontweight("bold")
    axes[0].set_ylim(len(lines) - 0.5, -0.5)
    handles = [axes[0].scatter([], [], color=c, s=20) for c, _ in TIERS.values()]
    fig.legend(handles, list(TIERS), loc="upper center", ncol=len(TIERS), frameon=False,
               fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))
    fig.savefig(path, dpi=DPI)
    return True


def acceptance_plot(operators: dict[str, dict[str, Any]], path: Path) -> bool:
    """Per operator the share of tried candidates accepted and rejected by each reason."""
    tried = {op: s.get("tried", 0) for op, s in operators.items()}
    names = sorted(op for op, n in tried.items() if n)
    if not names:
        return False
    reasons = sorted({r for op in names for r in operators[op].get("rejected", {})})
    fig = Figure(figsize=(9, 0.28 * len(names) + 1.3))
    ax = fig.subplots()
    left = np.zeros(len(names))
    parts = [("accepted", "#2a9d8f", [operators[op].get("accepted", 0) for op in names])]
    parts += [(f"rejected: {reason}", REASON_COLOURS[k % len(REASON_COLOURS)],
               [operators[op].get("rejected", {}).get(reason, 0) for op in names])
              for k, reason in enumerate(reasons)]
    for label, colour, counts in parts:
        share = np.array(counts) / [tried[op] for op in names]
        ax.barh(names, share, left=left, color=colour, label=label, height=0.7)
        left += share
    for k, op in enumerate(names):
        accepted = operators[op].get("accepted", 0)
        ax.text(1.01, k, f"{accepted}/{tried[op]}", va="center", fontsize=8, color="#334e68")
    ax.set_xlim(0, 1)
    ax.set_ylim(len(names) - 0.5, -0.5)
    ax.set_xlabel("share of tried candidates", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(parts), frameon=False,
              fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    return True
