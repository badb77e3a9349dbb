"""Throughput benchmark: load-once generation with 1 and 2 workers against reload-per-try, time
per stage and peak memory, on a fixed set of development-corpus pages.

    python bench/throughput.py                      # 24 pages, 200 pairs, then 2,000 for RSS
    python bench/throughput.py --pages 12 --pairs 100 --rss-pairs 0
    python bench/throughput.py --clip onnx none     # each run with the encoder on, then off

With several `--clip` backends each run is made once per backend, one after the other on the
same pages, and each backend's candidates/s is given as a ratio of `none`'s: the cost of the
embedding signal, measured in one run (the absolute rate moves with the machine and its load).

Pages come from the development corpus (bench/corpus.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from contextlib import ExitStack, nullcontext, suppress
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from corpus import corpus_pages  # noqa: E402

from spotdiff.config import load_config  # noqa: E402
from spotdiff.generator.run import RunRequest, generate  # noqa: E402
from spotdiff.records import Page  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def process_kind(proc: psutil.Process, main: int) -> str:
    """What a process of the run is: the main process, a pool worker, Playwright's driver, or
    which of Chromium's processes."""
    if proc.pid == main:
        return "main"
    cmd = " ".join(proc.cmdline())
    if "chromium" in cmd or "chrome" in proc.name():
        kind = next((k for k in ("renderer", "gpu-process", "utility")
                     if f"--type={k}" in cmd), "browser")
        return f"chromium {kind}"
    if "spawn_main" in cmd:
        return "worker"
    return "driver" if "run-driver" in cmd else "other"


class ProcessTree:
    """Peak resident memory and CPU time of this process and all its descendants, sampled
    every `interval` s. resource.getrusage(RUSAGE_CHILDREN) cannot give the CPU: Chromium's
    renderer and GPU processes are never waited for up the tree, so their time (a third of the
    run's) never reaches it. A process's last `interval` before it exits is missed. Sampling
    takes its CPU from the run it measures, so it is kept cheap: one read of /proc/PID/stat a
    process, new descendants looked for every `discover` samples, command lines read until a
    process's kind is known (measured on a browser's 11 processes: 0.013 of a core, against
    0.045 through psutil)."""

    def __init__(self, interval: float = 0.1, discover: int = 5) -> None:
        self.interval = interval
        self.discover = discover
        self.peak = 0
        self._cpu: dict[int, tuple[str, float, float]] = {}  # pid -> kind, first, last seen
        self._pids = [os.getpid()]
        self._samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    @staticmethod
    def _stat(pid: int) -> tuple[int, float, int]:
        """Parent pid, CPU seconds and resident bytes, from one read of /proc/PID/stat."""
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rpartition(b")")[2].split()
        return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS, \
            int(fields[21]) * PAGE_BYTES

    def _descendants(self) -> list[int]:
        parents: dict[int, list[int]] = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                with suppress(OSError, ValueError, IndexError):
                    parents.setdefault(self._stat(int(entry.name))[0], []).append(
                        int(entry.name))
        found, todo = [], [os.getpid()]
        while todo:
            children = parents.get(todo.pop(), [])
            found += children
            todo += children
        return found

    def _sample(self, first: bool = False) -> None:
        me = os.getpid()
        if self._samples % self.discover == 0:
            self._pids = [me, *self._descendants()]
        self._samples += 1
        total = 0
        for pid in self._pids:
            with suppress(OSError, ValueError, IndexError, psutil.Error):
                _, cpu, rss = self._stat(pid)
                total += rss
                known = self._cpu.get(pid)
                # classified again until known: a browser first seen between the driver's fork
                # and its exec still has the driver's command line; one exiting has none
                kind = (known[0] if known and known[0] not in ("other", "driver")
                        else process_kind(psutil.Process(pid), me))
                if known is not None:
                    self._cpu[pid] = (known[0] if kind == "other" else kind, known[1], cpu)
                else:  # a process started during the run counts from 0
                    self._cpu[pid] = (kind, cpu if first else 0.0, cpu)
        self.peak = max(self.peak, total)

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def cpu_by_kind(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for kind, start, last in self._cpu.values():
            out[kind] = out.get(kind, 0.0) + last - start
        return out

    def __enter__(self) -> ProcessTree:
        self._sample(first=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


class Timeline:
    """Cores busy over time, per process group: the main process, and each worker process with
    its descendants (Playwright's driver, the browser), sampled every `interval` s; and when
    units finished."""

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self.samples: list[tuple[float, dict[str, float]]] = []
        self.done: list[float] = []
        self._start = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._seen: dict[int, float] = {}  # pid -> cpu seconds at the last sample
        self._names: dict[int, str] = {}  # worker pid -> its column

    def _groups(self) -> dict[str, float]:
        me = psutil.Process()
        groups: dict[str, float] = {}
        with suppress(psutil.Error):
            groups["main"] = self._delta(me)
        for child in me.children():
            with suppress(psutil.Error):
                # pool workers in the order they started; multiprocessing's resource tracker
                # and the like are "other"
                worker = "spawn_main" in " ".join(child.cmdline())
                name = (self._names.setdefault(child.pid, f"w{len(self._names)}") if worker
                        else "other")
                tree = [child, *child.children(recursive=True)]
                groups[name] = groups.get(name, 0.0) + sum(self._delta(p) for p in tree)
        return groups

    def _delta(self, proc: psutil.Process) -> float:
        times = proc.cpu_times()
        total = times.user + times.system
        last = self._seen.get(proc.pid, 0.0)
        self._seen[proc.pid] = total
        return total - last

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            self.samples.append((time.perf_counter() - self._start, self._groups()))

    def unit_done(self, units: int, pairs: int) -> None:
        self.done.extend([time.perf_counter() - self._start] * units)

    def __enter__(self) -> Timeline:
        self._groups()  # what ran before the run is not its
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def table(self) -> str:
        """One line per sample: the cores each group kept busy, then units finished by then."""
        names = sorted({k for _, g in self.samples for k in g})
        lines = ["t_s  " + " ".join(f"{n:>5}" for n in names) + "  cores  units"]
        last = 0.0
        for t, groups in self.samples:
            cores = {n: groups.get(n, 0.0) / (t - last) for n in names}
            units = sum(d <= t for d in self.done)
            lines.append(f"{t:4.0f} " + " ".join(f"{cores[n]:5.2f}" for n in names)
                         + f"  {sum(cores.values()):5.2f}  {units:5d}")
            last = t
        return "\n".join(lines)


def measure(name: str, pages: list[Page], pairs: int, workers: int, clip: str,
            naive: bool = False, timeline: bool = False,
            browser_args: Sequence[str] = ()) -> dict:
    cfg = load_config()
    cfg.sampling.reload_per_try = naive
    cfg.clip.backend = clip
    cfg.browser.extra_args = [*cfg.browser.extra_args, *browser_args]
    with (tempfile.TemporaryDirectory() as tmp, ProcessTree() as tree,
          Timeline() if timeline else nullcontext() as watch):
        start = time.perf_counter()
        stats = generate(RunRequest.for_pairs(pages, Path(tmp) / "ds", pairs, 0, cfg,
                                              workers=workers), cfg,
                         watch.unit_done if watch else None)
        wall = time.perf_counter() - start
    by_kind = tree.cpu_by_kind()
    cpu = sum(by_kind.values())
    timings = stats.get("timings_s", {})
    tried = stats.get("candidates", {}).get("tried", 0)
    row = {
        "mode": name, "workers": workers, "clip": clip, "pages": len(pages), "pairs": stats["rows"],
        "candidates": tried, "wall_s": round(wall, 1),
        "candidates_per_s": round(tried / wall, 2),
        "pairs_per_s": round(stats.get("candidates", {}).get("accepted", 0) / wall, 2),
        # CPU of every process of the run; it moves less with other sessions' load than wall
        # time, and says what 2 idle cores would give if the run kept both busy
        "cpu_ms_per_candidate": round(1000 * cpu / max(1, tried), 1),
        "cpu_ms_per_candidate_by_process": {k: round(1000 * v / max(1, tried), 1)
                                            for k, v in sorted(by_kind.items())},
        "cores_busy": round(cpu / wall, 2),
        "candidates_per_s_2_cores_at_cpu_cost": round(2 * tried / cpu, 2),
        "peak_rss_mb": round(tree.peak / 2**20),
        "stage_ms_per_candidate": {k: round(1000 * v / max(1, tried), 1)
                                   for k, v in sorted(timings.items())},
    }
    print(json.dumps(row), flush=True)
    if watch:
        print(watch.table(), flush=True)
    return row


def signal_cost(rows: list[dict]) -> dict[str, float]:
    """Each run's candidates/s with an encoder as a ratio of the same run's with none, keyed
    by run and backend."""
    off = {(r["mode"], r["workers"]): r for r in rows if r["clip"] == "none"}
    return {f"{r['mode']}, {r['workers']} workers, {r['clip']}":
            round(r["candidates_per_s"] / base["candidates_per_s"], 2)
            for r in rows if r["clip"] != "none"
            and (base := off.get((r["mode"], r["workers"]))) and base["candidates_per_s"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=24)
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--rss-pairs", type=int, default=2000,
                        help="a larger run with 2 workers to show memory stays flat; 0 skips")
    parser.add_argument("--clip", nargs="+", default=["none"],
                        help="clip.backend of the runs (none, onnx, auto); several: each run once "
                             "per backend, compared with none")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results.json")
    parser.add_argument("--timeline", action="store_true",
                        help="print the cores each process kept busy, second by second")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="the load-once runs to make, by worker count")
    parser.add_argument("--no-reload", action="store_true", help="skip the reload-per-try run")
    parser.add_argument("--browser-arg", action="append", default=[],
                        help="an extra Chromium flag for every run (repeatable), to A/B flags")
    args = parser.parse_args()
    with ExitStack() as stack:
        pages = corpus_pages(stack, args.pages)
        rows = [measure("load once", pages, args.pairs, workers=n, clip=clip,
                        timeline=args.timeline, browser_args=args.browser_arg)
                for n in args.workers for clip in args.clip]
        if not args.no_reload:
            rows += [measure("reload per try", pages[: max(2, args.pages // 4)],
                             args.pairs // 4, workers=2, clip=clip, naive=True,
                             browser_args=args.browser_arg) for clip in args.clip]
        if args.rss_pairs:
            many = corpus_pages(stack, 250)
            rows += [measure("load once, large", many, args.rss_pairs, workers=2, clip=clip,
                             browser_args=args.browser_arg) for clip in args.clip]
    summary: dict = {"rows": rows}
    if against_none := signal_cost(rows):
        summary["candidates_per_s_vs_clip_none"] = against_none
        print(json.dumps({"candidates_per_s_vs_clip_none": against_none}))
    two, reload = ([r for r in rows if r["mode"] == mode and r["workers"] == 2
                    and r["clip"] == args.clip[0]] for mode in ("load once", "reload per try"))
    if two and reload:
        ratio = round(two[0]["candidates_per_s"] / reload[0]["candidates_per_s"], 1)
        summary["load_once_vs_reload_2_workers"] = ratio
        print(json.dumps({"load_once_vs_reload_2_workers": ratio}))
    args.out.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
