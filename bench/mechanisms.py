"""Which mechanism made each pair, on development-corpus pages built with utility classes.

    python bench/mechanisms.py                       # default run, per-operator × mechanism table
    python bench/mechanisms.py --sheets 30           # and contact sheets of 30 class-swap pairs
    python bench/mechanisms.py --split mix.yaml      # a split file (e.g. with a mechanism mix)
    python bench/mechanisms.py --mechanisms class_swap=0.4,rule_edit=0.2   # rule edits too

Generates with the default configuration (embeddings off) from the corpus sources built on
Bootstrap, prints the accepted pairs per operator and mechanism, the tries of each twin
(class swap, rule edit) per operator with their rejection reasons, and which of DiffSpot's 13
operators the class swaps reach: an operator is reached when at least `--reach` (3) of its
pairs are class swaps. `--sheets N` draws N class-swap pairs with bench/contact_sheets.py (before |
after | changed pixels with the target box, and the sentence) into `<out>/sheets/`.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from contact_sheets import from_row, pick, write_sheets  # noqa: E402
from corpus import corpus_pages  # noqa: E402

from spotdiff.config import load_config  # noqa: E402
from spotdiff.generator.run import RunRequest, generate  # noqa: E402
from spotdiff.generator.selection import Quota, load_split  # noqa: E402
from spotdiff.mutators.catalogue import load_catalogue  # noqa: E402

UTILITY_SOURCES = ("bs5-examples", "sb-admin-2-4.1.4", "sb-admin-7.0.7", "sb-onepage",
                   "tabler-ui-0.0.34")
DIFFSPOT_13 = ("font_weight", "font_size", "letter_spacing", "line_height", "text", "color",
               "opacity", "gradient", "position", "spacing", "justify", "border", "rounded")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=92)
    parser.add_argument("--pairs", type=int, default=250)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sheets", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--split", type=Path, default=None)
    parser.add_argument("--reach", type=int, default=3,
                        help="class-swap pairs an operator needs to count as reached")
    parser.add_argument("--mechanisms", default=None,
                        help="sampling.mechanisms, e.g. class_swap=0.4,rule_edit=0.2")
    args = parser.parse_args()
    cfg = load_config()
    cfg.clip.backend = "none"
    if args.mechanisms:
        cfg.sampling.mechanisms = {k: float(v) for k, v in
                                   (item.split("=") for item in args.mechanisms.split(","))}
    with ExitStack() as stack:
        pages = [p for p in corpus_pages(stack, 400) if p.domain in UTILITY_SOURCES]
        pages = pages[:args.pages]
        out = args.out or Path(stack.enter_context(tempfile.TemporaryDirectory())) / "ds"
        if args.split:
            split = load_split(args.split)
            catalogue = load_catalogue(cfg.operator_paths())
            req = RunRequest(pages, out, Quota.from_split(split, list(catalogue)),
                             cfg.sampling.max_pairs_per_page, 0, workers=args.workers)
        else:
            req = RunRequest.for_pairs(pages, out, args.pairs, 0, cfg, workers=args.workers)
        stats = generate(req, cfg)
        if "fill_mechanisms" in stats:
            print("fill_mechanisms (selected, wanted, accepted):", stats["fill_mechanisms"])
        rows = [r for f in sorted((out / "data").glob("*.parquet"))
                for r in pq.read_table(f).to_pylist()]
        counts: collections.Counter = collections.Counter()
        for row in rows:
            for d in map(json.loads, row["mutation_dicts_json"]):
                counts[(d["type"], d["mechanism"])] += 1
        mechanisms = sorted({m for _, m in counts})
        print(f"{len(pages)} pages, {len(rows)} pairs; "
              f"{stats['pages'].get('with_scales', 0)} pages with utility scales")
        print("| operator | " + " | ".join(mechanisms) + " |")
        print("|---|" + "---|" * len(mechanisms))
        for op in sorted({o for o, _ in counts}):
            print(f"| {op}{' *' if op in DIFFSPOT_13 else ''} | "
                  + " | ".join(str(counts[(op, m)]) for m in mechanisms) + " |")
        swapped = sum(n for (_, m), n in counts.items() if m == "class_swap")
        reached = sorted(o for (o, m), n in counts.items()
                         if m == "class_swap" and o in DIFFSPOT_13 and n >= args.reach)
        print(f"class swaps: {swapped} of {sum(counts.values())} "
              f"({100 * swapped / max(1, sum(counts.values())):.0f}%); DiffSpot operators "
              f"with >= {args.reach} class-swap pairs: {len(reached)} of 13 {reached}")
        for twin in ("class_swap", "rule_edit"):
            tries = stats.get("mechanisms", {}).get(twin, {}).get("by_operator", {})
            if tries:
                print(f"{twin} tries per operator (accepted, then rejections by reason):")
            for op, reasons in sorted(tries.items()):
                rejected = ", ".join(f"{k} {v}" for k, v in sorted(reasons.items(),
                                                                    key=lambda kv: -kv[1])
                                     if k != "accepted")
                print(f"  {op}: {sum(reasons.values())} tried, "
                      f"{reasons.get('accepted', 0)} accepted; {rejected}")
        if args.sheets:  # round-robin over operator × tier, so rare ones are looked at too
            swaps = [from_row(r) for r in rows
                     if json.loads(r["mutation_dicts_json"][0])["mechanism"] == "class_swap"]
            write_sheets(pick(swaps, args.sheets), out / "sheets", 6)

if __name__ == "__main__":
    main()
