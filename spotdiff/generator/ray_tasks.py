"""The Ray executor: batches of work units as Ray tasks on a cluster. The driver and the task body
sit side by side; every node must see the output directory (a shared path)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from spotdiff.generator.page_job import PageUnit
from spotdiff.generator.worker import Progress, WorkerSetup, run_units


@dataclass(frozen=True)
class BatchDone:
    units: list[int]  # the indices of the units the batch finished
    browser: str


def run_batch(setup: WorkerSetup, units: Sequence[PageUnit]) -> BatchDone:
    """The task body: run a fixed batch of units in this process."""
    pending = list(units)
    done: list[int] = []
    browser = asyncio.run(run_units(
        setup, lambda: pending.pop(0) if pending else None, lambda unit: None,
        lambda result: done.append(result.unit.index)))
    return BatchDone(done, browser)


def run_ray(units: Sequence[PageUnit], setup: WorkerSetup, address: str | None,
            progress: Progress, batch_size: int = 8) -> str:
    """The driver: run batches of units as tasks on the cluster at `address` (None: a local
    instance); returns the browser's description."""
    import ray

    ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    task = ray.remote(num_cpus=1, max_retries=1)(run_batch)
    _, _, run = setup.load()
    pending = [task.remote(setup, list(units[i:i + batch_size]))
               for i in range(0, len(units), batch_size)]
    browser = "unknown"
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        batch: BatchDone = ray.get(ready[0])
        browser = batch.browser
        for index in batch.units:
            progress(1, len(run.read_marker(index)["visual"]))
    return browser
