"""What runs work units in one process, wherever that process is (a local pool worker or a Ray
task): a browser, several pages in flight, each result saved into the run ledger by the worker
itself; the caller is told only what started and finished."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from spotdiff.config import RunConfig
from spotdiff.export.parquet import OutputWriteError
from spotdiff.generator.ledger import RunDir
from spotdiff.generator.page_job import PageJob, PageResult, PageUnit
from spotdiff.grounding.embedding import load_embedder
from spotdiff.mutators.catalogue import OperatorSpec
from spotdiff.renderer.session import Renderer

Progress = Callable[[int, int], None]  # what an executor reports: (units finished, pairs accepted)


class UnitError(Exception):
    """Processing a unit raised something other than a page skip: the worker dies of it.
    `fatal`: the output cannot be written, so no other worker or page can do better."""

    def __init__(self, index: int, error: BaseException) -> None:
        super().__init__(error_message(error))
        self.index = index
        self.fatal = isinstance(error, OutputWriteError)


def error_message(error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else ""
    if isinstance(error, UnitError | OutputWriteError):
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


@dataclass(frozen=True)
class WorkerSetup:
    """Everything a worker needs, in plain data so it crosses process boundaries."""

    config: dict[str, Any]
    operators: dict[str, dict[str, Any]]
    out: str
    split: str
    keep_rejects: int
    pages_in_flight: int
    tiers: tuple[str, ...]  # the tiers the run wants
    embeds: bool = False  # units embed pairs here: the encoder loads while the browser launches

    @classmethod
    def of(cls, cfg: RunConfig, catalogue: dict[str, OperatorSpec], run: RunDir,
           keep_rejects: int, pages_in_flight: int, tiers: tuple[str, ...],
           embeds: bool = False) -> WorkerSetup:
        return cls(cfg.model_dump(mode="json"),
                   {n: s.model_dump(mode="json") for n, s in catalogue.items()},
                   str(run.out), run.split, keep_rejects, pages_in_flight, tiers, embeds)

    def load(self) -> tuple[RunConfig, dict[str, OperatorSpec], RunDir]:
        from pathlib import Path

        cfg = RunConfig.model_validate(self.config)
        catalogue = {n: OperatorSpec.model_validate(s) for n, s in self.operators.items()}
        return cfg, catalogue, RunDir(Path(self.out), self.split)


async def run_units(setup: WorkerSetup, next_unit: Callable[[], PageUnit | None],
                    on_start: Callable[[PageUnit], None],
                    on_done: Callable[[PageResult], None]) -> str:
    """Process units until `next_unit` returns None; returns the browser's description."""
    cfg, catalogue, run = setup.load()
    templates = {name: spec.template for name, spec in catalogue.items()}
    loading = asyncio.ensure_future(asyncio.to_thread(load_embedder, cfg.clip)
                                    if setup.embeds else asyncio.sleep(0))
    async with Renderer(cfg.browser, cfg.render) as renderer:
        job = PageJob(renderer, catalogue, cfg, setup.keep_rejects, setup.tiers, await loading)

        async def lane() -> None:
            while (unit := next_unit()) is not None:
                on_start(unit)
                try:
                    try:
                        result = await asyncio.wait_for(job.run(unit), cfg.render.page_budget_s)
                    except asyncio.TimeoutError:
                        result = PageResult(unit)
                        result.stats.count("pages", "total")
                        result.stats.count("pages", "skipped", "page_budget_exceeded")
                    run.save_unit(result, templates, cfg.export.row_group_rows)
                except Exception as e:
                    raise UnitError(unit.index, e) from e
                on_done(result)

        await asyncio.gather(*(lane() for _ in range(max(1, setup.pages_in_flight))))
        return renderer.describe()
