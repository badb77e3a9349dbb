"""The local worker pool's answers to workers that die: real worker processes (spawned, each with
its real browser) SIGKILLed from outside, as the OOM killer or an operator would."""

import os
import signal
import threading
import time
from collections.abc import Callable

import pytest

from spotdiff.config import load_config
from spotdiff.generator.ledger import RunDir
from spotdiff.generator.page_job import PageUnit
from spotdiff.generator.pool import MAX_SILENT_DEATHS, RunFailed, WorkerPool
from spotdiff.generator.selection import PagePlan
from spotdiff.generator.worker import WorkerSetup
from spotdiff.mutators.catalogue import load_catalogue
from spotdiff.records import TIERS, Page


def pool_for(tmp_path, url: str, progress: Callable[[int, int], None]) -> tuple[WorkerPool,
                                                                              RunDir]:
    cfg = load_config(overrides={"clip": {"backend": "none"}})
    run = RunDir(tmp_path / "ds", "train")
    run.units.mkdir(parents=True)
    setup = WorkerSetup.of(cfg, load_catalogue(cfg.operator_paths()), run, 0, 1, TIERS)
    unit = PageUnit(0, Page(url, domain="docs"), PagePlan((), 0, 0, 0), no_diff=1)
    return WorkerPool([unit], setup, cfg.render.page_budget_s, progress), run


def kill_workers(pool: WorkerPool, when: Callable[[int], bool], stop: threading.Event) -> list:
    """SIGKILL each worker process once `when(worker id)` holds; returns the ids killed."""
    killed: list[int] = []

    def watch() -> None:
        while not stop.is_set():
            for wid, worker in enumerate(list(pool.workers)):
                if wid not in killed and worker.process.pid and when(wid):
                    os.kill(worker.process.pid, signal.SIGKILL)
                    killed.append(wid)
            time.sleep(0.02)

    threading.Thread(target=watch, daemon=True).start()
    return killed


def test_workers_that_keep_dying_before_any_work_stop_the_run(tmp_path, test_site):
    pool, _ = pool_for(tmp_path, f"{test_site}basic.html", lambda units, pairs: None)
    stop = threading.Event()
    killed = kill_workers(pool, lambda wid: True, stop)  # before a worker can say a word
    try:
        with pytest.raises(RunFailed, match=r"keep exiting before any work \(exit codes \[-9\]\)"):
            pool.run(1)
    finally:
        stop.set()
    assert len(killed) == len(pool.workers) == MAX_SILENT_DEATHS


def test_a_unit_whose_worker_dies_twice_is_recorded_as_worker_died(tmp_path, test_site):
    progress: list[tuple[int, int]] = []
    pool, run = pool_for(tmp_path, f"{test_site}basic.html",
                         lambda units, pairs: progress.append((units, pairs)))
    stop = threading.Event()
    killed = kill_workers(pool, lambda wid: bool(pool.workers[wid].holding), stop)
    try:
        pool.run(1)
    finally:
        stop.set()
    # retried once on a fresh worker (a worker that took a stop sign left by the dead one may
    # come and go in between, holding nothing)
    assert len(killed) == 2 and killed[0] == 0
    marker = run.read_marker(0)
    assert marker["stats"]["pages"] == {"total": 1, "skipped": {"worker_died": 1}}
    assert progress == [(1, 0)]
