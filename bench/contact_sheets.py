"""Contact sheets for judging pairs by eye: per pair, the before crop | the after crop | the
changed-pixel mask with the target box, and under them the pair's id, operator, tier, measured
visibility and sentence. Crops are shown at 1:1 (a person sees the screenshot at that scale)
unless larger than a panel.

    python bench/contact_sheets.py out/ds --pairs 80 --per-sheet 10 --out out/ds/sheets
    python bench/contact_sheets.py out/ds --rejects invisible      # pairs the gate rejected
    python bench/contact_sheets.py out/ds --least 3                # the floor: least visible kept
    python bench/contact_sheets.py out/ds --mechanism class_swap   # pairs made by one mechanism
    python bench/contact_sheets.py out/ds --tier hard              # one tier's pairs

Pairs are taken round-robin over operator × tier so every cell shows; writes sheet-NN.png and
pairs.jsonl (what each tile shows) under --out.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from PIL import Image, ImageDraw, ImageFont

PANEL_W, PANEL_H = 260, 150
CONTEXT_PX = 30  # shown around the target box
TEXT_H = 78
GAP = 8


_CJK = re.compile(r"[\u1100-\u11ff\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uff00-\uffef]")


def _font(size: int, text: str = "") -> ImageFont.ImageFont:
    """DejaVu (Latin, Cyrillic, Arabic, Hebrew), or Noto Sans CJK for a caption quoting Chinese,
    Japanese or Korean: one font a caption, as Pillow does not fall back glyph by glyph."""
    cjk = ("NotoSansCJK-Regular.ttc",) if _CJK.search(text) else ()
    for name in (*cjk, "DejaVuSans.ttf", "NotoSans-Regular.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default()


def _pixels(image: dict) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(image["bytes"])).convert("RGB"))


def _window(box: tuple[int, int, int, int], width: int, height: int) -> tuple[int, int, int, int]:
    x, y, w, h = box
    x0, y0 = max(0, x - CONTEXT_PX), max(0, y - CONTEXT_PX)
    x1, y1 = min(width, x + w + CONTEXT_PX), min(height, y + h + CONTEXT_PX)
    return x0, y0, max(x0 + 1, x1), max(y0 + 1, y1)


def _fit(image: Image.Image) -> Image.Image:
    scale = min(1.0, PANEL_W / image.width, PANEL_H / image.height)
    if scale < 1:
        image = image.resize((max(1, round(image.width * scale)),
                              max(1, round(image.height * scale))), Image.LANCZOS)
    return image


@dataclass
class Sample:
    id: str
    operator: str
    tier: str
    head: str  # the measures shown above the sentence
    sentence: str
    box: tuple[int, int, int, int]
    visibility: float
    frames: Callable[[], tuple[np.ndarray, np.ndarray]]  # decoded only when drawn


def from_row(row: dict) -> Sample:
    mutation = json.loads(row["mutation_dicts_json"][0])
    visibility = mutation.get("visibility") or {}
    head = (f"{visibility.get('measure', '')} {visibility.get('value', '')} · "
            f"magnitude {mutation['magnitude']:g} · {mutation.get('mechanism', '')}")
    if mutation.get("new_class"):  # a class swap, or (no old class) a class added
        head += f" {mutation['old_class'] or '+'} → {mutation['new_class']}"
    box = (row["target_bbox_x"], row["target_bbox_y"], row["target_bbox_w"], row["target_bbox_h"])
    return Sample(row["id"], row["operator"], row["difficulty"], head, row["ground_truth_diff"],
                  box, float(visibility.get("value", "nan")),
                  lambda: (_pixels(row["image_before"]), _pixels(row["image_after"])))


def from_reject(dataset: Path, i: int, entry: dict) -> Sample:
    def frames() -> tuple[np.ndarray, np.ndarray]:
        return tuple(np.asarray(Image.open(dataset / entry[k]).convert("RGB"))
                     for k in ("before", "after"))  # type: ignore[return-value]
    metrics = entry["metrics"]
    head = (f"rejected {entry['reason']} · visibility {metrics.get('visibility', '?')} · "
            f"target_diff {metrics['target_diff']:.3g}")
    return Sample(f"reject-{i}", entry["operator"], entry["tier"], head, entry["sentence"],
                  tuple(entry["box"]), float(metrics.get("visibility", "nan")), frames)


def tile(sample: Sample) -> Image.Image:
    before, after = sample.frames()
    height, width = before.shape[:2]
    box = sample.box
    x0, y0, x1, y1 = _window(box, width, height)
    changed = np.any(before != after, axis=2)
    mask = (before * 0.35).astype(np.uint8)
    mask[changed] = (255, 40, 40)
    mask_image = Image.fromarray(mask)
    draw = ImageDraw.Draw(mask_image)
    draw.rectangle([box[0], box[1], box[0] + box[2] - 1, box[1] + box[3] - 1],
                   outline=(40, 220, 90))
    panels = [_fit(Image.fromarray(a).crop((x0, y0, x1, y1)))
              for a in (before, after)] + [_fit(mask_image.crop((x0, y0, x1, y1)))]
    out = Image.new("RGB", (3 * PANEL_W + 4 * GAP, PANEL_H + TEXT_H + GAP), (235, 235, 235))
    for i, panel in enumerate(panels):
        out.paste(panel, (GAP + i * (PANEL_W + GAP), GAP))
    draw = ImageDraw.Draw(out)
    draw.text((GAP, PANEL_H + GAP + 2),
              f"{sample.id} · {sample.operator} · {sample.tier} · {sample.head}",
              fill=(90, 90, 90), font=_font(12))
    font = _font(13, sample.sentence)
    body = _wrap(sample.sentence, font, out.width - 2 * GAP, lines=3)
    draw.text((GAP, PANEL_H + GAP + 18), body, fill=(0, 0, 0), font=font)
    return out


def _wrap(text: str, font: ImageFont.ImageFont, width: int, lines: int) -> str:
    """`text` broken at spaces, or inside a word (CJK has few spaces), to lines of `width` px."""
    out, line = [], ""
    for ch in text:
        if font.getlength(line + ch) <= width:
            line += ch
            continue
        cut = line.rfind(" ") if " " in line else len(line)
        out.append(line[:cut])
        line = line[cut:].lstrip() + ch
    return "\n".join([*out, line][:lines])


def pick(samples: list[Sample], n: int) -> list[Sample]:
    """Round-robin over operator × tier cells, in file order within a cell."""
    cells: dict[tuple[str, str], list[Sample]] = {}
    for sample in samples:
        cells.setdefault((sample.operator, sample.tier), []).append(sample)
    order = [cells[k] for k in sorted(cells)]
    spread = (r for r in itertools.chain.from_iterable(itertools.zip_longest(*order)) if r)
    return list(itertools.islice(spread, n))


def write_sheets(chosen: list[Sample], out: Path, per_sheet: int) -> None:
    """`per_sheet` tiles a PNG (sheet-NN.png) and what each shows in pairs.jsonl."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / "pairs.jsonl").open("w") as index:
        for sheet, start in enumerate(range(0, len(chosen), per_sheet)):
            batch = chosen[start: start + per_sheet]
            tiles = [tile(s) for s in batch]
            page = Image.new("RGB", (tiles[0].width, sum(t.height for t in tiles)), "white")
            for i, t in enumerate(tiles):
                page.paste(t, (0, i * t.height))
            page.save(out / f"sheet-{sheet:02d}.png")
            for s in batch:
                index.write(json.dumps({"sheet": sheet, "id": s.id, "operator": s.operator,
                                        "tier": s.tier, "head": s.head,
                                        "sentence": s.sentence}, ensure_ascii=False) + "\n")
    print(f"{len(chosen)} pairs on {-(-len(chosen) // per_sheet)} sheets in {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--pairs", type=int, default=80)
    parser.add_argument("--per-sheet", type=int, default=6)
    parser.add_argument("--least", type=int, help="the N least visible pairs of each operator")
    parser.add_argument("--rejects", help="show the rejected pairs kept for this reason instead")
    parser.add_argument("--mechanism", help="only pairs made by this mechanism (class_swap, …)")
    parser.add_argument("--tier", help="only pairs of this tier (easy, medium, hard)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    out = args.out or args.dataset / ("sheets" if not args.rejects else f"rejects-{args.rejects}")
    out.mkdir(parents=True, exist_ok=True)
    if args.rejects:
        entries = [json.loads(line) for line in
                   (args.dataset / "rejects" / "index.jsonl").read_text().splitlines()]
        samples = [from_reject(args.dataset, i, e) for i, e in enumerate(entries)
                   if e["reason"] == args.rejects]
    else:
        rows = pq.read_table(sorted((args.dataset / "data").glob("*.parquet"))).to_pylist()
        samples = [from_row(r) for r in rows if r["task_type"] == "visual_diff" and (
            args.mechanism is None
            or json.loads(r["mutation_dicts_json"][0])["mechanism"] == args.mechanism)]
    if args.tier:
        samples = [s for s in samples if s.tier == args.tier]
    if args.least:
        by_op: dict[str, list[Sample]] = {}
        for sample in samples:
            by_op.setdefault(sample.operator, []).append(sample)
        chosen = [s for op in sorted(by_op)
                  for s in sorted(by_op[op], key=lambda s: s.visibility)[:args.least]]
    else:
        chosen = pick(samples, args.pairs)
    write_sheets(chosen, out, args.per_sheet)


if __name__ == "__main__":
    main()
