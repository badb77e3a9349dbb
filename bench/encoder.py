"""The whole-letterbox offline encoder in float32 against int8 (`clip.quantize`): time (wall
and CPU) per image and how well the int8 distances agree with the float32 ones, on pairs
generated from development-corpus pages; also the patch-window encoders (`clip.window_padding`
0 and 1, the default; int8) against the float32 one; `--against MODEL.onnx` also compares the
int8 distances with another encoder file's (an earlier cut, say).

    python bench/encoder.py                     # 200 pairs from 24 pages
    python bench/encoder.py --skip 100          # from 24 other pages
    python bench/encoder.py --dataset out/ds    # the pairs of an existing dataset
    python bench/encoder.py --dataset out/ds --against ~/.cache/spotdiff/models/OLD-int8.onnx
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
from spotdiff.grounding.embedding import (  # noqa: E402
    EmbeddingCache,
    OnnxEmbedder,
)
from spotdiff.renderer.session import decode_png  # noqa: E402


def distances(pairs: list, cfg: ClipConfig) -> tuple[list[float], float, float, str]:
    """The pairs' distances, wall and CPU seconds per image embedded, the encoder's label."""
    embedder = OnnxEmbedder(cfg)
    embedder.embed([pairs[0][0]])  # the session's first run is slower
    start, cpu = time.perf_counter(), time.process_time()
    cache = EmbeddingCache(embedder)
    found = cache.distances(pairs)
    n = max(1, cache.embedded)
    return (found, (time.perf_counter() - start) / n, (time.process_time() - cpu) / n,
            embedder.label)


def agreement(a: list[float], b: list[float]) -> dict[str, float]:
    return {"pearson": round(float(np.corrcoef(a, b)[0, 1]), 4),
            "max_abs_difference": round(float(np.max(np.abs(np.subtract(a, b)))), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, help="a directory written by generate")
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--pages", type=int, default=24)
    parser.add_argument("--skip", type=int, default=0, help="start this far into the corpus")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--against", type=Path, help="another int8 ONNX encoder to compare with")
    args = parser.parse_args()
    with ExitStack() as stack:
        dataset = args.dataset
        if dataset is None:
            cfg = load_config()
            cfg.clip.backend = "none"
            dataset = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "ds"
            generate(RunRequest.for_pairs(corpus_pages(stack, args.pages, args.skip), dataset,
                                          args.pairs, 0, cfg, workers=2), cfg)
        rows = pq.read_table(sorted((dataset / "data").glob("*.parquet")),
                             columns=["task_type", "image_before", "image_after"]).to_pylist()
    pairs = [(decode_png(r["image_before"]["bytes"]), decode_png(r["image_after"]["bytes"]))
             for r in rows if r["task_type"] == "visual_diff"][:args.pairs]
    full, full_s, full_cpu, full_name = distances(
        pairs, ClipConfig(backend="onnx", quantize=False, window_padding=None,
                          threads=args.threads))
    int8, int8_s, int8_cpu, int8_name = distances(
        pairs, ClipConfig(backend="onnx", quantize=True, window_padding=None,
                          threads=args.threads))
    report = {
        "pairs": len(pairs), "threads": args.threads,
        "ms_per_image": {full_name: round(1000 * full_s), int8_name: round(1000 * int8_s)},
        "cpu_ms_per_image": {full_name: round(1000 * full_cpu, 1),
                             int8_name: round(1000 * int8_cpu, 1)},
        "speedup": round(full_s / int8_s, 2),
        **agreement(full, int8),
    }
    for padding in (0, 1):
        window, window_s, window_cpu, window_name = distances(pairs, ClipConfig(
            backend="onnx", window_padding=padding, threads=args.threads))
        report[f"window_padding_{padding}"] = {
            "model": window_name, "ms_per_image": round(1000 * window_s),
            "cpu_ms_per_image": round(1000 * window_cpu, 1), **agreement(full, window)}
    if args.against:
        # an int8 file runs image by image, as the quantised default does
        other, other_s, other_cpu, _ = distances(pairs, ClipConfig(
            backend="onnx", onnx_path=str(args.against), quantize=False, batch_size=1,
            threads=args.threads))
        report["against"] = {"model": str(args.against), "ms_per_image": round(1000 * other_s),
                             "cpu_ms_per_image": round(1000 * other_cpu, 1),
                             **agreement(other, int8)}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
