"""One work unit: load a page once, try many mutations on it, gate them, and make its controls."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from spotdiff.config import RunConfig
from spotdiff.generator.stats import Stats
from spotdiff.grounding.gate import verdict
from spotdiff.grounding.metrics import diff_mask, pair_metrics, union_box
from spotdiff.mutators.catalogue import OperatorSpec
from spotdiff.mutators.describe import describe_element, sentence
from spotdiff.mutators.planner import page_context, plan
from spotdiff.records import Mutation, Page, Pair, Shot
from spotdiff.renderer.session import LoadedPage, PageSkipped, Renderer

NO_DIFF_SENTENCE = "There is no visual difference between the two screenshots."


@dataclass(frozen=True)
class PageUnit:
    index: int
    page: Page
    quota: int  # accepted pairs wanted from this page
    no_diff: int = 0  # no-diff controls to make from this page


@dataclass
class PageResult:
    unit: PageUnit
    pairs: list[Pair] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)


def style_properties(catalogue: dict[str, OperatorSpec]) -> list[str]:
    """Computed styles the browser must report: the operators' own plus those rules read."""
    props = {spec.property for spec in catalogue.values() if spec.mechanism == "style"}
    return sorted(props | {"font-size", "color", "display", "position"})


def page_seed(seed: int, url: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(url.encode())])


class PageJob:
    def __init__(self, renderer: Renderer, catalogue: dict[str, OperatorSpec], cfg: RunConfig):
        self.renderer = renderer
        self.catalogue = catalogue
        self.cfg = cfg
        self.properties = style_properties(catalogue)

    async def run(self, unit: PageUnit) -> PageResult:
        result = PageResult(unit)
        stats = result.stats
        stats.count("pages", "total")
        loaded: LoadedPage | None = None
        try:
            with stats.timed("load"):
                loaded = await self.renderer.open(unit.page)
            result.pairs = await self._mutate(loaded, unit, stats)
            stats.count("pages", "loaded")
        except PageSkipped as e:
            stats.count("pages", "skipped", e.reason)
            result.pairs = []
        finally:
            if loaded is not None:
                await loaded.close()
        return result

    async def _mutate(self, loaded: LoadedPage, unit: PageUnit, stats: Stats) -> list[Pair]:
        c, _r = self.cfg.candidates, self.cfg.render
        with stats.timed("enumerate"):
            elements = await loaded.elements(self.properties, {
                "minWidth": c.min_width, "minHeight": c.min_height,
                "maxAreaFraction": c.max_area_fraction, "maxElements": c.max_elements})
        stats.count("elements", n=len(elements))
        with stats.timed("screenshot"):
            before = await loaded.stable_screenshot()
        pairs: list[Pair] = []
        rng = page_seed(self.cfg.seed, unit.page.identity)
        tried = 0
        for operator, item in plan(elements, self.catalogue, rng, page_context(elements)):
            if len(pairs) >= unit.quota or tried >= self.cfg.sampling.tries_per_page:
                break
            if isinstance(item, str):
                stats.count("operators", operator, "not_derived", item)
                continue
            tried += 1
            pair = await self.try_mutation(loaded, before, item, stats)
            if pair is not None:
                pairs.append(pair)
        if tried:
            await self._check_baseline(loaded, before, stats)
        for _ in range(unit.no_diff):
            pairs.append(await self._no_diff(unit.page, before, loaded.language, stats))
        return pairs

    async def try_mutation(self, loaded: LoadedPage, before: Shot, m: Mutation,
                   stats: Stats) -> Pair | None:
        op = m.operator
        stats.count("candidates", "tried")
        stats.count("operators", op, "tried")
        with stats.timed("apply"):
            applied = await loaded.apply({"selector": m.element.selector, "mechanism": m.mechanism,
                                          "property": m.property, "value": m.new_value})
        after = None
        if not applied.get("error"):
            with stats.timed("screenshot"):
                after = await loaded.screenshot()
        with stats.timed("revert"):
            await loaded.revert()
        if applied.get("error") or after is None:
            reason = "apply_failed"
        elif not applied["resolves"]:
            reason = "selector_lost"
        else:
            with stats.timed("gate"):
                new_box = tuple(applied["newBox"]) if applied["newBox"] else None
                box = union_box(tuple(applied["oldBox"]), new_box)
                metrics = pair_metrics(diff_mask(before.pixels, after.pixels), box,
                                       self.cfg.gate.margin_px)
                reason = verdict(metrics, self.cfg.gate)
        if reason is not None:
            stats.count("candidates", "rejected", reason)
            stats.count("operators", op, "rejected", reason)
            return None
        stats.count("candidates", "accepted")
        stats.count("operators", op, "accepted")
        stats.count("operators", op, "accepted_by_tier", m.tier)
        r = self.cfg.render
        described = describe_element(m.element, r.width, r.height)
        return Pair(page=loaded.page, before=before, after=after, mutations=[m], target_box=box,
                    metrics=metrics, language=loaded.language or "und",
                    sentence=sentence(self.catalogue[op], m, described),
                    descriptions=[described])

    async def _check_baseline(self, loaded: LoadedPage, before: Shot, stats: Stats) -> None:
        """Reverting every try must restore the page exactly; count pages where it did not."""
        with stats.timed("screenshot"):
            again = await loaded.screenshot()
        if diff_mask(before.pixels, again.pixels).any():
            stats.count("pages", "revert_drift")

    async def _no_diff(self, page: Page, before: Shot, language: str, stats: Stats) -> Pair:
        """The same page loaded again in a fresh context: its measured diff is expected to be 0."""
        with stats.timed("load"):
            second = await self.renderer.open(page)
        try:
            with stats.timed("screenshot"):
                after = await second.stable_screenshot()
        finally:
            await second.close()
        metrics = pair_metrics(diff_mask(before.pixels, after.pixels), None, 0)
        stats.count("no_diff", "made")
        if metrics["pixel_diff"] > 0:
            stats.count("no_diff", "nonzero_diff")
        return Pair(page=page, before=before, after=after, mutations=[], target_box=None,
                    metrics=metrics, language=language or "und", sentence=NO_DIFF_SENTENCE,
                    task_type="no_diff")
