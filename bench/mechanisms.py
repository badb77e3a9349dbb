"""Which mechanism made each pair, on development-corpus pages built with utility classes.

    python bench/mechanisms.py                       # default run, per-operator × mechanism table
    python bench/mechanisms.py --sheets 30           # and contact sheets of 30 class-swap pairs
    python bench/mechanisms.py --split mix.yaml      # a split file (e.g. with a mechanism mix)
    python bench/mechanisms.py --mechanisms class_swap=0.4,rule_edit=0.2   # rule edits too

Generates with the default configuration (embeddings off) from the corpus sources built on
Bootstrap, prints the accepted pairs per operator and mechanism, the tries of each twin
(class swap, rule edit) per operator with their rejection reasons, and which of DiffSpot's 13
operators the class swaps reach: an operator is reached when at least `--reach` (3) of its
pairs are class swaps. `--sheets N` writes N contact sheets (before | after | changed pixels
with the target box, and the sentence) of class-swap pairs to `<out>/sheets/`.
"""

from __future__ import annotations

import argparse
import collections
import io
import itertools
import json
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from corpus import corpus_pages  # noqa: E402

from spotdiff.config import load_config  # noqa: E402
from spotdiff.generator.run import RunRequest, generate  # noqa: E402
from spotdiff.generator.selection import Quota, load_split  # noqa: E402
from spotdiff.mutators.catalogue import load_catalogue  # noqa: E402

UTILITY_SOURCES = ("bs5-examples", "sb-admin-2-4.1.4", "sb-admin-7.0.7", "sb-onepage",
                   "tabler-ui-0.0.34")
DIFFSPOT_13 = ("font_weight", "font_size", "letter_spacing", "line_height", "text", "color",
               "opacity", "gradient", "position", "spacing", "justify", "border", "rounded")


def contact_sheet(row: dict, path: Path) -> None:
    before = Image.open(io.BytesIO(row["image_before"]["bytes"])).convert("RGB")
    after = Image.open(io.BytesIO(row["image_after"]["bytes"])).convert("RGB")
    changed = np.any(np.asarray(before) != np.asarray(after), axis=2)
    mask = Image.fromarray(np.where(changed, 255, 40).astype(np.uint8)).convert("RGB")
    x, y, w, h = (row[f"target_bbox_{k}"] for k in "xywh")
    for im in (before, after, mask):
        ImageDraw.Draw(im).rectangle([x - 2, y - 2, x + w + 2, y + h + 2], outline=(255, 0, 0),
                                     width=2)
    # crop around the target so the change is visible at file-view size
    cx, cy = x + w // 2, y + h // 2
    box = (max(0, cx - 320), max(0, cy - 200), min(1280, max(0, cx - 320) + 640),
           min(800, max(0, cy - 200) + 400))
    tiles = [im.crop(box) for im in (before, after, mask)]
    sheet = Image.new("RGB", (3 * 640 + 20, 400 + 60), "white")
    for i, tile in enumerate(tiles):
        sheet.paste(tile, (i * 650, 0))
    d = json.loads(row["mutation_dicts_json"][0])
    made = f"{d['old_class']} → {d['new_class']}" if "old_class" in d else d["mechanism"]
    text = f"{row['ground_truth_diff']}  [{made}, {row['difficulty']}]"
    ImageDraw.Draw(sheet).text((6, 406), text[:230], fill=(0, 0, 0))
    ImageDraw.Draw(sheet).text((6, 426), text[230:460], fill=(0, 0, 0))
    sheet.save(path)


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
        if args.sheets:
            sheets = out / "sheets"
            sheets.mkdir(exist_ok=True)
            by_operator: dict[str, list[dict]] = collections.defaultdict(list)
            rng = np.random.default_rng(0)
            for i in rng.permutation(len(rows)):
                if json.loads(rows[i]["mutation_dicts_json"][0])["mechanism"] == "class_swap":
                    by_operator[rows[i]["operator"]].append(rows[i])
            # round-robin over operators, so rare ones are looked at too
            picked = [r for group in itertools.zip_longest(*by_operator.values()) for r in group
                      if r is not None][:args.sheets]
            for i, row in enumerate(picked):
                contact_sheet(row, sheets / f"{i:03d}-{row['operator']}.png")
            print(f"contact sheets in {sheets}")


if __name__ == "__main__":
    main()
