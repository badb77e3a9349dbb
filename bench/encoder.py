"""The offline encoder in float32 against int8 (`clip.quantize`): time per image and how well the
int8 distances agree with the float32 ones, on pairs generated from development-corpus pages.

    python bench/encoder.py                     # 200 pairs from 24 pages
    python bench/encoder.py --dataset out/ds    # the pairs of an existing dataset
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from corpus import corpus_pages  # noqa: E402

from spotdiff.config import ClipConfig, load_config  # noqa: E402
from spotdiff.generator.run import RunRequest, generate  # noqa: E402
from spotdiff.grounding.embedding import EmbeddingCache, OnnxEmbedder  # noqa: E402
from spotdiff.renderer.session import decode_png  # noqa: E402


def distances(pairs: list, quantize: bool, threads: int) -> tuple[list[float], float, str]:
    embedder = OnnxEmbedder(ClipConfig(backend="onnx", quantize=quantize, threads=threads))
    embedder.embed([pairs[0][0]])  # the session's first run is slower
    start = time.perf_counter()
    cache = EmbeddingCache(embedder)
    found = cache.distances(pairs)
    return found, (time.perf_counter() - start) / max(1, cache.embedded), embedder.label


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, help="a directory written by generate")
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--pages", type=int, default=24)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    with ExitStack() as stack:
        dataset = args.dataset
        if dataset is None:
            cfg = load_config()
            cfg.clip.backend = "none"
            dataset = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "ds"
            generate(RunRequest.for_pairs(corpus_pages(stack, args.pages), dataset,
                                          args.pairs, 0, cfg, workers=2), cfg)
        rows = pq.read_table(sorted((dataset / "data").glob("*.parquet")),
                             columns=["task_type", "image_before", "image_after"]).to_pylist()
    pairs = [(decode_png(r["image_before"]["bytes"]), decode_png(r["image_after"]["bytes"]))
             for r in rows if r["task_type"] == "visual_diff"][:args.pairs]
    full, full_s, full_name = distances(pairs, False, args.threads)
    int8, int8_s, int8_name = distances(pairs, True, args.threads)
    print(json.dumps({
        "pairs": len(pairs), "threads": args.threads,
        "ms_per_image": {full_name: round(1000 * full_s), int8_name: round(1000 * int8_s)},
        "speedup": round(full_s / int8_s, 2),
        "pearson": round(float(np.corrcoef(full, int8)[0, 1]), 4),
        "max_abs_difference": round(float(np.max(np.abs(np.subtract(full, int8)))), 4),
    }, indent=1))


if __name__ == "__main__":
    main()
