"""Difficulty calibration: generate every operator × tier cell from development-corpus pages
with the offline image encoder, then calibrate: do pixel_diff, clip_distance and the measured
visibility fall from easy to hard within each operator, and where do the visibility tertiles
(`visibility.bounds`) lie?

    python bench/calibration.py                             # 30 pages, up to 12 pairs a cell
    python bench/calibration.py --pages 120 --skip 120      # pages not used to set the tiers

Writes the dataset, calibration.json/png and calibration.md (the table) under --out.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from corpus import REPO, corpus_pages

sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from PIL import Image  # noqa: E402

from spotdiff.config import (
    ClipConfig,  # noqa: E402
    load_config,  # noqa: E402
)
from spotdiff.generator.run import RunRequest, generate  # noqa: E402
from spotdiff.generator.selection import Quota, SplitConfig  # noqa: E402
from spotdiff.grounding.embedding import EmbeddingCache, load_embedder  # noqa: E402
from spotdiff.mutators.catalogue import load_catalogue  # noqa: E402
from spotdiff.records import TIERS  # noqa: E402
from spotdiff.report.calibration import calibrate  # noqa: E402


def embedding_cost(dataset: Path, clip: ClipConfig, pairs: int = 48) -> tuple[float, str]:
    """ms per pair to embed `pairs` rows of the dataset in one process, with each page's
    before-image embedded once, as generation does."""
    rows = pq.read_table(sorted((dataset / "data").glob("*.parquet")),
                         columns=["image_before", "image_after", "url"]).slice(0, pairs)
    rows = sorted(rows.to_pylist(), key=lambda r: r["url"])

    def pixels(image: dict) -> np.ndarray:
        return np.asarray(Image.open(io.BytesIO(image["bytes"])).convert("RGB"))

    images = [(pixels(r["image_before"]), pixels(r["image_after"])) for r in rows]
    cache = EmbeddingCache(load_embedder(clip))
    start = time.perf_counter()
    cache.distances(images)
    return 1000 * (time.perf_counter() - start) / len(images), cache.embedder.name


def table(result: dict, stats: dict, cost: tuple[float, str], clip_threads: int) -> str:
    lines = ["| operator | n easy / medium / hard | pixel_diff easy / medium / hard "
             "| clip_distance easy / medium / hard | visibility easy / medium / hard "
             "| falls (pixel, clip, visibility) | visibility tertiles |",
             "|---|---|---|---|---|---|---|"]
    for op, entry in result.items():
        def medians(measure: str, entry: dict = entry) -> str:
            return " / ".join(f"{entry[t][measure]['median']:.2e}" if t in entry else "–"
                              for t in TIERS)
        counts = " / ".join(str(entry[t]["n"]) if t in entry else "0" for t in TIERS)
        falls = ", ".join("yes" if entry["falls_easy_to_hard"][m] else "no"
                          for m in ("pixel_diff", "clip_distance", "visibility"))
        bounds = entry.get("visibility_bounds")
        tertiles = (f"{bounds['measure']} {bounds['tertiles'][0]:.3g}, "
                    f"{bounds['tertiles'][1]:.3g}" if bounds else "–")
        lines.append(f"| {op} | {counts} | {medians('pixel_diff')} | {medians('clip_distance')} "
                     f"| {medians('visibility')} | {falls} | {tertiles} |")
    pixel, clip, visible = (sum(e["falls_easy_to_hard"][m] for e in result.values())
                            for m in ("pixel_diff", "clip_distance", "visibility"))
    lines += ["", f"falls easy→hard: pixel_diff {pixel}/{len(result)}, "
              f"clip_distance {clip}/{len(result)}, visibility {visible}/{len(result)} · "
              f"rows {stats['rows']} · "
              f"{stats['candidates_per_s']} candidates/s · embedding {cost[0]:.0f} ms per pair "
              f"({cost[1]}, {clip_threads} thread(s) as in a worker, before-images once per "
              "page)"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=30)
    parser.add_argument("--skip", type=int, default=0, help="start this far into the corpus")
    parser.add_argument("--quota", type=int, default=12, help="pairs wanted per operator × tier")
    parser.add_argument("--per-page", type=int, default=40, help="accepted pairs asked of a page")
    parser.add_argument("--tries", type=int, default=160, help="tries per page")
    parser.add_argument("--clip", default="onnx", help="clip.backend: onnx, auto, open_clip")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep-rejects", type=int, default=0, help="rejected pairs kept a reason")
    parser.add_argument("--config", type=Path, help="run config (its operators are calibrated)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "calibration")
    args = parser.parse_args()
    cfg = load_config(args.config, overrides={"seed": args.seed})
    cfg.clip.backend = args.clip
    cfg.sampling.tries_per_page = args.tries
    cfg.sampling.max_pairs_per_page = args.per_page
    split = SplitConfig(quota_per_cell=args.quota, max_pairs_per_page=args.per_page,
                        max_domain_share=None, no_diff=0)
    quota = Quota.from_split(split, list(load_catalogue(cfg.operator_paths())))
    with ExitStack() as stack:
        pages = corpus_pages(stack, args.pages, args.skip)
        stats = generate(RunRequest(pages, args.out, quota, args.per_page, 0,
                                    workers=args.workers,
                                    keep_rejects=args.keep_rejects), cfg)
    cost = (embedding_cost(args.out, cfg.clip) if cfg.clip.backend != "none"
            else (float("nan"), "none"))
    text = table(calibrate(args.out), stats, cost, cfg.clip.threads)
    (args.out / "calibration.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
