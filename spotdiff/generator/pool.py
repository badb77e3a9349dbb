"""The local executor: a pool of worker processes, each with its own browser, pulling work units
from one queue and reporting on another with typed events.

Workers write their own results into the run ledger; the pool only hears which units started
and finished, so the main process stays light and a dead worker loses at most the units it held.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing as mp
import queue
import signal
import sys
import time
import traceback
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from spotdiff.debug import debugging
from spotdiff.generator.page_job import PageResult, PageUnit
from spotdiff.generator.worker import Progress, WorkerSetup, error_message, run_units

log = logging.getLogger("spotdiff.executor")
MAX_ATTEMPTS = 2
MAX_SILENT_DEATHS = 4  # workers that exited without a word: something is broken, not flaky


class RunFailed(RuntimeError):
    """Workers keep failing the same way: going on would only repeat it page after page."""


@dataclass(frozen=True)
class UnitStarted:
    worker: int
    unit: int


@dataclass(frozen=True)
class UnitDone:
    worker: int
    unit: int
    pairs: int  # accepted visual pairs


@dataclass(frozen=True)
class WorkerError:
    """The worker dies of this error, on `unit` (None: before or between units). `fatal`: the
    output cannot be written, so no other worker can do better."""

    worker: int
    unit: int | None
    message: str
    fatal: bool


@dataclass(frozen=True)
class WorkerExit:
    """A worker's goodbye after its last unit."""

    worker: int
    browser: str  # the description of the browser it ran


Event = UnitStarted | UnitDone | WorkerError | WorkerExit


def worker_main(worker_id: int, setup: WorkerSetup, units: mp.Queue, events: mp.Queue) -> None:
    """A pool worker process: pull units until a None arrives, report each start and finish; on
    an error report it and exit."""
    logging.basicConfig(level=logging.WARNING)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    try:
        browser = asyncio.run(run_units(
            setup, units.get,
            lambda unit: events.put(UnitStarted(worker_id, unit.index)),
            lambda result: events.put(UnitDone(worker_id, result.unit.index,
                                               len(result.pairs)))))
    except Exception as e:
        if debugging():
            traceback.print_exc()
        events.put(WorkerError(worker_id, getattr(e, "index", None), error_message(e),
                               getattr(e, "fatal", False)))
        sys.exit(1)
    events.put(WorkerExit(worker_id, browser))


@dataclass
class _Worker:
    process: mp.Process
    holding: set[int] = field(default_factory=set)  # units started and not yet done
    last_heard: float = field(default_factory=time.monotonic)
    heard_from: bool = False


class WorkerPool:
    """Runs units on worker processes. A worker that dies or goes silent past its deadline is
    replaced; its units are retried once, then recorded as skipped (`worker_died`)."""

    def __init__(self, units: Sequence[PageUnit], setup: WorkerSetup, page_budget_s: float,
                 progress: Progress) -> None:
        self.setup = setup
        self.progress = progress
        self.deadline = page_budget_s * 2 + 60  # silence longer than this: the worker is stuck
        self.units = {u.index: u for u in units}
        self.remaining = set(self.units)
        self.attempts: Counter[int] = Counter()
        self.workers: list[_Worker] = []  # the worker id is the position
        self.browser = "unknown"
        self.last_error: WorkerError | None = None  # since the last unit that finished
        self._ctx = mp.get_context("spawn")
        self._todo: mp.Queue = self._ctx.Queue()
        self._events: mp.Queue = self._ctx.Queue()

    def run(self, workers: int) -> str:
        """Run every unit on up to `workers` processes; returns the browser's description."""
        for unit in self.units.values():
            self._todo.put(unit)
        for _ in range(max(1, min(workers, len(self.units)))):
            self._start_worker()
        try:
            while self.remaining:
                if (event := self._next_event()) is not None:
                    self._handle(event)
                self._replace_lost_workers()
                if self.remaining and not any(w.process.is_alive() for w in self.workers):
                    self._restart_after_silent_deaths()
        finally:
            for worker in self.workers:
                worker.process.join(30 if not self.remaining else 0)
                if worker.process.is_alive():
                    worker.process.kill()
        return self.browser if self.browser != "unknown" else self._said_browser()

    def _start_worker(self) -> None:
        process = self._ctx.Process(target=worker_main, daemon=True, args=(
            len(self.workers), self.setup, self._todo, self._events))
        process.start()
        self.workers.append(_Worker(process))
        for _ in range(self.setup.pages_in_flight):  # one stop sign per lane
            self._todo.put(None)

    def _next_event(self, timeout: float = 2) -> Event | None:
        try:
            return self._events.get(timeout=timeout)
        except queue.Empty:
            return None

    def _handle(self, event: Event) -> None:
        worker = self.workers[event.worker]
        worker.last_heard = time.monotonic()
        worker.heard_from = True
        if isinstance(event, UnitStarted):
            worker.holding.add(event.unit)
        elif isinstance(event, UnitDone):
            worker.holding.discard(event.unit)
            self.remaining.discard(event.unit)
            self.last_error = None
            self.progress(1, event.pairs)
        elif isinstance(event, WorkerError):
            self._died_of(event)
        else:
            self.browser = event.browser

    def _died_of(self, error: WorkerError) -> None:
        """A fatal error, or the same error again on another page (or again before any page),
        stops the run with it."""
        if error.fatal:
            raise RunFailed(error.message)
        last = self.last_error
        if (last is not None and last.message == error.message
                and (error.unit is None or error.unit != last.unit)):
            raise RunFailed(f"{error.message} (workers died of it on two pages in a row)")
        log.warning("worker died on unit %s: %s", error.unit, error.message)
        self.last_error = error

    def _replace_lost_workers(self) -> None:
        for wid, worker in enumerate(list(self.workers)):
            process = worker.process
            silent = time.monotonic() - worker.last_heard > self.deadline
            if process.is_alive() and silent and worker.holding:
                log.warning("worker %d silent for %.0f s; stopping it", wid, self.deadline)
                process.kill()
                process.join(5)
            if not process.is_alive() and worker.holding:
                lost, worker.holding = worker.holding, set()
                self._recover(lost)
                self._start_worker()

    def _restart_after_silent_deaths(self) -> None:
        """Every worker is gone with units left: start another, unless too many died without a
        word."""
        if sum(not w.heard_from for w in self.workers) >= MAX_SILENT_DEATHS:
            codes = sorted({w.process.exitcode for w in self.workers})
            raise RunFailed(f"worker processes keep exiting before any work (exit codes "
                            f"{codes}); run with --workers 1 --debug to see why")
        self._start_worker()

    def _recover(self, lost: set[int]) -> None:
        for index in sorted(lost):
            self.attempts[index] += 1
            if self.attempts[index] < MAX_ATTEMPTS:
                log.warning("worker died holding unit %d; retrying it", index)
                self._todo.put(self.units[index])
                continue
            log.warning("unit %d lost its worker twice; recording it as skipped", index)
            _, _, run = self.setup.load()
            result = PageResult(self.units[index])
            result.stats.count("pages", "total")
            result.stats.count("pages", "skipped", "worker_died")
            run.save_unit(result, {}, 1)
            self.remaining.discard(index)
            self.progress(1, 0)

    def _said_browser(self) -> str:
        """The browser a worker reported on exit: that goodbye comes after its last unit, so the
        loop in `run`, which ends with the units, has not read it."""
        while (event := self._next_event(timeout=1)) is not None:
            if isinstance(event, WorkerExit):
                return event.browser
        return "unknown"
