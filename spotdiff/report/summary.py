"""The summary tables: what the dataset holds (from its rows) and how the run went (stats.json)."""

from __future__ import annotations

import platform
from collections import Counter
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from spotdiff.records import TIERS

DIFFICULTIES = (*TIERS, "no_diff")  # a row's `difficulty`, in report order


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[Any]] = field(default_factory=list)


def _tier_order(tier: str) -> tuple[int, str]:
    return (DIFFICULTIES.index(tier) if tier in DIFFICULTIES else len(DIFFICULTIES), tier)


def _counts(title: str, key: str, rows: list[dict[str, Any]]) -> Table:
    counts = Counter(r[key] for r in rows)
    order = sorted(counts, key=_tier_order if key == "difficulty" else str)
    return Table(title, [key, "pairs"], [[k, counts[k]] for k in order])


def _flatten(node: dict[str, Any], prefix: str = "") -> list[list[Any]]:
    out = []
    for key, value in sorted(node.items()):
        if isinstance(value, dict):
            out += _flatten(value, f"{prefix}{key} / ")
        else:
            out.append([prefix + key, round(value, 2) if isinstance(value, float) else value])
    return out


def _percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "–"


def operator_table(rows: list[dict[str, Any]], stats: dict[str, Any]) -> Table:
    """Per operator: pairs in the dataset by tier, then candidates tried, accepted by the gate
    and rejected by reason in the run."""
    ops = stats.get("operators", {})
    reasons = sorted({r for s in ops.values() for r in s.get("rejected", {})})
    tiers = [t for t in DIFFICULTIES if any(r["difficulty"] == t for r in rows)]
    kept = Counter((r["operator"], r["difficulty"]) for r in rows)
    names = sorted({r["operator"] for r in rows} | set(ops), key=lambda o: (o == "none", o))
    table = Table("Pairs and candidates per operator",
                  ["operator", *tiers, "pairs", "tried", "accepted", "rate",
                   *(f"rejected: {r}" for r in reasons)])
    for op in names:
        s = ops.get(op, {})
        tried, accepted = s.get("tried", 0), s.get("accepted", 0)
        table.rows.append([op, *(kept[op, t] for t in tiers), sum(kept[op, t] for t in tiers),
                           tried, accepted, _percent(accepted, tried),
                           *(s.get("rejected", {}).get(r, 0) for r in reasons)])
    return table


def count_tables(rows: list[dict[str, Any]], stats: dict[str, Any]) -> list[Table]:
    tables = [_counts("Pairs per split", "split", rows),
              _counts("Pairs per tier", "difficulty", rows),
              _counts("Pairs per task type", "task_type", rows),
              _counts("Pairs per language", "language", rows),
              _counts("Pairs per domain", "domain", rows)]
    for key, title in (("candidates", "Candidates"), ("pages", "Pages"),
                       ("short_cells", "Short quota cells"),
                       ("timings_s", "Time per stage (s, all workers)")):
        if stats.get(key):
            tables.append(Table(title, ["", ""], _flatten(stats[key])))
    return tables


def facts(rows: list[dict[str, Any]], stats: dict[str, Any]) -> list[tuple[str, str]]:
    """The headline numbers."""
    tasks = Counter(r["task_type"] for r in rows)
    cand = stats.get("candidates", {})
    pages = stats.get("pages", {})
    out = [("pairs", f"{len(rows)}"),
           ("visual_diff / no_diff", f"{tasks['visual_diff']} / {tasks['no_diff']}"),
           ("operators", str(len({r['operator'] for r in rows if r['task_type'] != 'no_diff'}))),
           ("domains", str(len({r["domain"] for r in rows})))]
    if cand:
        out.append(("gate acceptance", f"{_percent(cand.get('accepted', 0), cand.get('tried', 0))}"
                    f" of {cand.get('tried', 0)} candidates"))
    if pages:
        out.append(("pages loaded", f"{pages.get('loaded', 0)} / {pages.get('total', 0)}"))
    if "elapsed_s" in stats:
        out.append(("run time", f"{stats['elapsed_s']:.0f} s · {stats.get('accepted_per_s', 0)}"
                    " pairs/s"))
    return out


def versions(stats: dict[str, Any]) -> list[list[str]]:
    """What produced the dataset, as far as stats.json records it, then what built this report."""
    out = [[k, str(stats[k])] for k in ("browser", "executor", "workers", "seed", "split")
           if k in stats]
    models = stats.get("clip_models", {})
    out += [["embedding model", f"{m} ({n} pages)"] for m, n in models.items()]
    out += [[name, str(v)] for name, v in sorted(stats.get("versions", {}).items())]
    out.append(["report built with", f"spotdiff {metadata.version('spotdiff')}, "
                f"python {platform.python_version()}"])
    return out
