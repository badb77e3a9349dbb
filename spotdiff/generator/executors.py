"""Where work units run: local worker processes (default) or Ray tasks on a cluster.

Workers write their own results into the run ledger; the caller only hears which units
finished, so the main process stays light and a dead worker loses at most the units it held.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import queue
import time
from collections import Counter
from collections.abc import Callable, Sequence

from spotdiff.generator.page_job import PageResult, PageUnit
from spotdiff.generator.worker import WorkerSetup, run_batch, worker_main

log = logging.getLogger("spotdiff.executor")
Progress = Callable[[int, int], None]  # (units finished, pairs accepted)
MAX_ATTEMPTS = 2
MAX_SILENT_DEATHS = 4  # workers that exited without a word: something is broken, not flaky


class RunFailed(RuntimeError):
    """Workers keep failing the same way: going on would only repeat it page after page."""


def run_local(units: Sequence[PageUnit], setup: WorkerSetup, workers: int, page_budget_s: float,
              progress: Progress) -> str:
    """Run units on `workers` processes, each with its own browser. A worker that dies or goes
    silent past its deadline is replaced; its units are retried once, then recorded as skipped."""
    ctx = mp.get_context("spawn")
    todo: mp.Queue = ctx.Queue()
    events: mp.Queue = ctx.Queue()
    by_index = {u.index: u for u in units}
    remaining = set(by_index)
    attempts: Counter[int] = Counter()
    procs: dict[int, mp.Process] = {}
    holding: dict[int, set[int]] = {}
    last_heard: dict[int, float] = {}
    heard_from: dict[int, bool] = {}
    browser = "unknown"
    deadline = page_budget_s * 2 + 60

    def start_worker() -> None:
        wid = len(procs)
        proc = ctx.Process(target=worker_main, args=(wid, setup, todo, events), daemon=True)
        proc.start()
        procs[wid], holding[wid], last_heard[wid] = proc, set(), time.monotonic()
        heard_from[wid] = False
        for _ in range(setup.pages_in_flight):  # one stop sign per lane
            todo.put(None)

    for unit in units:
        todo.put(unit)
    for _ in range(max(1, min(workers, len(units)))):
        start_worker()
    last_error: tuple[str, int | None] | None = None  # since the last unit that finished
    try:
        while remaining:
            try:
                event = events.get(timeout=2)
            except queue.Empty:
                event = None
            if event is not None:
                kind, wid = event[0], event[1]
                last_heard[wid] = time.monotonic()
                heard_from[wid] = True
                if kind == "start":
                    holding[wid].add(event[2])
                elif kind == "done":
                    holding[wid].discard(event[2])
                    remaining.discard(event[2])
                    last_error = None
                    progress(1, event[3])
                elif kind == "error" and event[4]:
                    raise RunFailed(event[3])
                elif kind == "error":
                    last_error = _repeated(last_error, event[3], event[2])
                elif kind == "exit":
                    browser = event[2]
            for wid, proc in list(procs.items()):
                silent = time.monotonic() - last_heard[wid] > deadline
                if proc.is_alive() and silent and holding[wid]:
                    log.warning("worker %d silent for %.0f s; stopping it", wid, deadline)
                    proc.kill()
                    proc.join(5)
                if not proc.is_alive() and holding[wid]:
                    lost, holding[wid] = holding[wid], set()
                    _recover(lost, by_index, attempts, todo, setup, remaining, progress)
                    start_worker()
            if remaining and not any(p.is_alive() for p in procs.values()):
                if sum(not heard_from[w] for w in procs) >= MAX_SILENT_DEATHS:
                    codes = sorted({p.exitcode for p in procs.values()})
                    raise RunFailed(f"worker processes keep exiting before any work (exit "
                                    f"codes {codes}); run with --workers 1 --debug to see why")
                start_worker()
    finally:
        for proc in procs.values():
            proc.join(30 if not remaining else 0)
            if proc.is_alive():
                proc.kill()
    return browser if browser != "unknown" else _said_browser(events)


def _said_browser(events: mp.Queue) -> str:
    """The browser a worker reported on exit: that goodbye comes after its last unit, so the
    loop above, which ends with the units, has not read it."""
    while True:
        try:
            event = events.get(timeout=1)
        except queue.Empty:
            return "unknown"
        if event[0] == "exit":
            return event[2]


def _repeated(last: tuple[str, int | None] | None, message: str,
              index: int | None) -> tuple[str, int | None]:
    """The error a worker died of; the same one again on another page (or again before any
    page) stops the run with it."""
    if last is not None and last[0] == message and (index is None or index != last[1]):
        raise RunFailed(f"{message} (workers died of it on two pages in a row)")
    log.warning("worker died on unit %s: %s", index, message)
    return message, index


def _recover(lost: set[int], by_index: dict[int, PageUnit], attempts: Counter[int],
             todo: mp.Queue, setup: WorkerSetup, remaining: set[int], progress: Progress) -> None:
    for index in sorted(lost):
        attempts[index] += 1
        if attempts[index] < MAX_ATTEMPTS:
            log.warning("worker died holding unit %d; retrying it", index)
            todo.put(by_index[index])
            continue
        log.warning("unit %d lost its worker twice; recording it as skipped", index)
        _, _, run = setup.load()
        result = PageResult(by_index[index])
        result.stats.count("pages", "total")
        result.stats.count("pages", "skipped", "worker_died")
        run.save_unit(result, {}, 1)
        remaining.discard(index)
        progress(1, 0)


def run_ray(units: Sequence[PageUnit], setup: WorkerSetup, address: str | None,
            progress: Progress, batch_size: int = 8) -> str:
    """Run batches of units as Ray tasks on the cluster at `address` (None: a local instance).
    Every node must see the output directory (a shared path)."""
    import ray

    ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    task = ray.remote(num_cpus=1, max_retries=1)(run_batch)
    _, _, run = setup.load()
    pending = [task.remote(setup, list(units[i:i + batch_size]))
               for i in range(0, len(units), batch_size)]
    browser = "unknown"
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        result = ray.get(ready[0])
        browser = result["browser"]
        for index in result["done"]:
            progress(1, len(run.read_marker(index)["visual"]))
    return browser
