"""Throughput benchmark: load-once generation with 1 and 2 workers against reload-per-try, time
per stage and peak memory, on a fixed set of development-corpus pages.

    python bench/throughput.py                      # 24 pages, 200 pairs, then 2,000 for RSS
    python bench/throughput.py --pages 12 --pairs 100 --rss-pairs 0

Pages come from the development corpus (bench/corpus.py).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import threading
import time
from contextlib import ExitStack, suppress
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from corpus import corpus_pages  # noqa: E402

from spotdiff.config import load_config  # noqa: E402
from spotdiff.generator.run import RunRequest, generate  # noqa: E402
from spotdiff.records import Page  # noqa: E402


class PeakRss:
    """Peak resident memory of this process and all its descendants (browsers included)."""

    def __init__(self, interval: float = 0.2) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(interval,), daemon=True)

    def _watch(self, interval: float) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for proc in [me, *me.children(recursive=True)]:
                with suppress(psutil.Error):
                    total += proc.memory_info().rss
            self.peak = max(self.peak, total)
            time.sleep(interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def cpu_seconds() -> float:
    """CPU time of this process and of every descendant that has exited (workers, their
    drivers and browsers): unlike wall time, it hardly moves with other sessions' load."""
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


def measure(name: str, pages: list[Page], pairs: int, workers: int, clip: str,
            naive: bool = False) -> dict:
    cfg = load_config()
    cfg.sampling.reload_per_try = naive
    cfg.clip.backend = clip
    with tempfile.TemporaryDirectory() as tmp, PeakRss() as rss:
        start, cpu = time.perf_counter(), cpu_seconds()
        stats = generate(RunRequest.for_pairs(pages, Path(tmp) / "ds", pairs, 0, cfg,
                                              workers=workers), cfg)
        wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    timings = stats.get("timings_s", {})
    tried = stats.get("candidates", {}).get("tried", 0)
    row = {
        "mode": name, "workers": workers, "clip": clip, "pages": len(pages), "pairs": stats["rows"],
        "candidates": tried, "wall_s": round(wall, 1),
        "candidates_per_s": round(tried / wall, 2),
        "pairs_per_s": round(stats.get("candidates", {}).get("accepted", 0) / wall, 2),
        # what 2 idle cores would give if the run kept both busy
        "cpu_ms_per_candidate": round(1000 * cpu / max(1, tried), 1),
        "candidates_per_s_2_cores_at_cpu_cost": round(2 * tried / cpu, 2),
        "peak_rss_mb": round(rss.peak / 2**20),
        "stage_ms_per_candidate": {k: round(1000 * v / max(1, tried), 1)
                                   for k, v in sorted(timings.items())},
    }
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=24)
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--rss-pairs", type=int, default=2000,
                        help="a larger run with 2 workers to show memory stays flat; 0 skips")
    parser.add_argument("--clip", default="none", help="clip.backend: none, onnx, auto")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results.json")
    args = parser.parse_args()
    with ExitStack() as stack:
        pages = corpus_pages(stack, args.pages)
        rows = [
            measure("load once", pages, args.pairs, workers=1, clip=args.clip),
            measure("load once", pages, args.pairs, workers=2, clip=args.clip),
            measure("reload per try", pages[: max(2, args.pages // 4)], args.pairs // 4,
                    workers=2, clip=args.clip, naive=True),
        ]
        if args.rss_pairs:
            many = corpus_pages(stack, 250)
            rows.append(measure("load once, large", many, args.rss_pairs, workers=2,
                                clip=args.clip))
    ratio = rows[1]["candidates_per_s"] / rows[2]["candidates_per_s"]
    summary = {"rows": rows, "load_once_vs_reload_2_workers": round(ratio, 1)}
    args.out.write_text(json.dumps(summary, indent=2))
    print(json.dumps({"load_once_vs_reload_2_workers": round(ratio, 1)}))


if __name__ == "__main__":
    main()
