"""One work unit: load a page once, try many mutations on it, gate them, and make its controls."""

from __future__ import annotations

import asyncio
import dataclasses
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from spotdiff.config import RunConfig
from spotdiff.crawler.classify import Classifier
from spotdiff.generator.selection import ANY, Cell, PagePlan, matches
from spotdiff.generator.stats import Stats
from spotdiff.grounding import preview
from spotdiff.grounding.embedding import (
    EmbeddingCache,
    FrameVectors,
    ImageEmbedder,
    load_embedder,
)
from spotdiff.grounding.gate import (
    PREVIEW_ERROR,
    Measures,
    Placed,
    Probed,
    faint,
    foreseen,
    verdict,
    wants_clip_distance,
)
from spotdiff.grounding.pixel_diff import diff_mask, pair_metrics
from spotdiff.grounding.regions import change_regions
from spotdiff.grounding.ssim import frame_ssim, ssim
from spotdiff.grounding.visibility import measure as measure_visibility
from spotdiff.mutators import class_swap
from spotdiff.mutators.aim import Aim
from spotdiff.mutators.catalogue import OperatorSpec
from spotdiff.mutators.describe import describe_element, describe_page, sentence
from spotdiff.mutators.planner import page_context
from spotdiff.mutators.planner import plan as plan_mutations
from spotdiff.mutators.stylesheets import Scales, Viewport, discover
from spotdiff.mutators.values import first_number
from spotdiff.records import (
    TIERS,
    Box,
    Element,
    Mutation,
    Page,
    Pair,
    RuleTarget,
    Shot,
    boxes_overlap,
    grow_box,
    hardest,
    union_box,
)
from spotdiff.renderer.mechanisms import TABLE, mechanism_name
from spotdiff.renderer.session import Applied, LoadedPage, PageSkipped, Renderer

NO_DIFF_SENTENCE = "There is no visual difference between the two screenshots."
# changes a cell may see foreseen as rejected by their layout, per candidate it may try, before
# the page moves on to its next cell (a cell whose every element reflows is not drawn at all)
PROBES_PER_TRY = 4
OTHER_TIER = "other_tier"  # foreseen: a previewed change measures in another tier than the cell's


@dataclass(frozen=True)
class PageUnit:
    index: int
    page: Page
    plan: PagePlan  # what to try on it
    no_diff: int = 0  # no-diff controls to make from this page
    # None: clip_distance is left to the main process (or the gate). N: the worker computes it
    # for the first N accepted pairs and every control, the rows selection keeps whatever the
    # other units give, from the pixels it already holds
    embed: int | None = None


@dataclass
class Reject:
    """A gated-out candidate kept for people to judge the thresholds by eye."""

    reason: str
    pair: Pair


@dataclass
class TryOutcome:
    pair: Pair | None  # also when rejected, once it got as far as a screenshot
    reason: str | None  # rejection reason; None when accepted
    restored: bool  # the revert brought back the page's first frame


@dataclass
class PageResult:
    unit: PageUnit
    pairs: list[Pair] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)
    category: str | None = None  # the page's domain category; None when it did not load
    # the page's before-frame as this worker embedded it, so the main process embedding its
    # other rows need not embed the frame again
    frame_vectors: FrameVectors | None = None


def style_properties(catalogue: dict[str, OperatorSpec]) -> list[str]:
    """Computed styles the browser must report: those the operators read or change."""
    props = {spec.read or spec.property for spec in catalogue.values()
             if spec.mechanism == "style" or spec.read}
    props |= {p for spec in catalogue.values() for p in spec.applies_to.styles}
    return sorted(props | {"font-size", "color", "display", "position"})


def page_seed(seed: int, url: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(url.encode())])


def group_mutations(items: Iterator[tuple[str, Mutation | str]], size: int,
                    stats: Stats) -> Iterator[list[Mutation]]:
    """Successive planned mutations bundled `size` at a time on non-overlapping elements."""
    group: list[Mutation] = []
    for operator, item in items:
        if isinstance(item, str):
            stats.count("operators", operator, "not_derived", item)
            continue
        if any(boxes_overlap(item.element.box, m.element.box) for m in group):
            continue
        group.append(item)
        if len(group) == size:
            yield group
            group = []


class PageJob:
    def __init__(self, renderer: Renderer, catalogue: dict[str, OperatorSpec], cfg: RunConfig,
                 keep_rejects: int = 0, tiers: Sequence[str] = TIERS,
                 embedder: ImageEmbedder | None = None):
        self.renderer = renderer
        self.catalogue = catalogue
        self.cfg = cfg
        self.keep_rejects = keep_rejects
        self.tiers = tiers
        self.properties = style_properties(catalogue)
        self.classifier = Classifier.from_file(cfg.resolve(cfg.crawl.categories))
        # given, or loaded on first use, in the worker
        self._embeddings = EmbeddingCache(embedder) if embedder is not None else None
        self._embedding = asyncio.Lock()  # the pages in flight share one encoder session

    async def run(self, unit: PageUnit) -> PageResult:
        result = PageResult(unit)
        stats = result.stats
        stats.count("pages", "total")
        loaded: LoadedPage | None = None
        try:
            with stats.timed("load"):
                loaded = await self.renderer.open(unit.page)
            await self._classify(loaded)
            result.category = loaded.page.domain
            await self._mutate(loaded, unit, result)
            stats.count("pages", "loaded")
        except PageSkipped as e:
            stats.count("pages", "skipped", e.reason)
            result.pairs, result.rejects, result.category = [], [], None
        finally:
            if loaded is not None:
                self._add_timings(stats, loaded)
                await loaded.close()
        return result

    async def _classify(self, loaded: LoadedPage) -> None:
        """A page without a category gets the crawler's, from its URL, title and visible text."""
        if loaded.page.domain is not None:
            return
        found = await loaded.page_text()
        category = self.classifier.classify(loaded.page.url, found.title, found.text)
        loaded.page = replace(loaded.page, domain=category)

    @staticmethod
    def _add_timings(stats: Stats, loaded: LoadedPage) -> None:
        for stage, seconds in loaded.timings.items():
            stats.count("timings_s", stage, n=seconds)

    async def _mutate(self, loaded: LoadedPage, unit: PageUnit, result: PageResult) -> None:
        r, stats = self.cfg.render, result.stats
        plan = unit.plan
        if plan.cells and loaded.page.domain in plan.closed:
            stats.count("pages", "category_full")  # its category is at the domain cap
            plan = replace(plan, cells=())
        before = None
        if plan.cells:
            with stats.timed("enumerate"):
                elements = await loaded.elements(self.cfg.candidates, self.properties)
            elements = describe_page(elements, r.width, r.height)
            stats.count("elements", n=len(elements))
            before = await loaded.stable_screenshot()
            scales = await self._scales(loaded, stats)
            rules = (await loaded.rule_targets(sorted(
                {s.property for s in self.catalogue.values() if s.mechanism == "style"}))
                if self.cfg.sampling.mechanisms.get("rule_edit") else [])
            tried = await self._try_cells(loaded, unit, plan, elements, before, result,
                                          scales, rules)
            if tried and not await loaded.shows(before):
                stats.count("pages", "revert_drift")  # reverting every try must restore it
        if unit.no_diff:
            language = (loaded.language or await loaded.document_language()
                        or loaded.page.language or "")
            before = before or await loaded.stable_screenshot()
            for _ in range(unit.no_diff):
                result.pairs.append(await self._no_diff(loaded.page, before, language, stats))
        await self._measure(result, unit.embed)

    async def _try_cells(self, loaded: LoadedPage, unit: PageUnit, plan: PagePlan,
                         elements: list[Element], before: Shot, result: PageResult,
                         scales: Scales | None, rules: list[RuleTarget]) -> int:
        """Try the plan's cells in turn until the page holds `plan.pairs` accepted pairs in
        them; returns the candidates tried."""
        r, stats = self.cfg.render, result.stats
        rng = page_seed(self.cfg.seed, unit.page.identity)
        context = page_context(elements)
        held = tried = 0
        mechanisms = plan.mechanisms or self.cfg.sampling.mechanisms
        for position, cell in enumerate(plan.cells):
            operators = self.catalogue if cell[0] == ANY else (
                {cell[0]: self.catalogue[cell[0]]} if cell[0] in self.catalogue else {})
            tiers = self.tiers if cell[1] == ANY else (cell[1],)
            aim = Aim(cell[1]) if ANY not in cell else None  # each try aims the next
            planned = plan_mutations(elements, operators, rng, context, (r.width, r.height),
                                     tiers, scales, mechanisms, rules, aim)
            in_cell = 0
            probes_left = PROBES_PER_TRY * plan.tries_at(position)
            for group in group_mutations(planned, self.cfg.sampling.mutations_per_pair, stats):
                # a split cell keeps its tries when one lands in another of the page's cells:
                # the aim has just learnt how far off it was
                if ((held >= plan.pairs and aim is None) or tried >= plan.tries
                        or in_cell >= plan.tries_at(position) or not probes_left):
                    break
                # a split cell's tries are probed: most of its rejections are foreseeable and
                # its pages are few; many pairs of anything from a page gain nothing by it
                if aim is not None and (found := await self._foresee(loaded, before, group,
                                                                     aim.tier, stats)):
                    reason, group = found
                    probes_left -= 1
                    stats.count("cells", *cell, "foreseen", reason)
                    # a change foreseen in another tier steers the aim as one drawn there would
                    aim.observe(self.catalogue[cell[0]], group,
                                None if reason == OTHER_TIER else reason)
                    continue
                tried += 1
                in_cell += 1
                outcome = await self._try_on(unit.page, loaded, before, group, stats)
                if aim is not None:  # where the cell's tries land, or why not
                    stats.count("cells", *cell, "aimed", outcome.reason or (
                        hardest([m.tier for m in outcome.pair.mutations]) if outcome.pair
                        else "not_drawn"))
                if aim is not None and outcome.pair is not None:
                    aim.observe(self.catalogue[cell[0]], outcome.pair.mutations, outcome.reason)
                if outcome.pair is not None and outcome.reason is None:
                    result.pairs.append(outcome.pair)
                    if self._counts(plan.cells, outcome.pair):
                        held += 1
                        if aim is not None and self._counts((cell,), outcome.pair):
                            break  # this cell has its pair: on to the next one
                elif outcome.pair is not None and self._keep(result, outcome.reason):
                    result.rejects.append(Reject(outcome.reason, outcome.pair))
                if not outcome.restored:
                    # the page no longer shows its first frame: keep what it gave, try no more
                    stats.count("pages", "revert_failed")
                    return tried
            if not in_cell:
                stats.count("cells", *cell, "no_candidate")
            if held >= plan.pairs or tried >= plan.tries:
                break
        return tried

    async def _foresee(self, loaded: LoadedPage, before: Shot, group: list[Mutation],
                       tier: str, stats: Stats) -> tuple[str, list[Mutation]] | None:
        """Why the group is not worth drawing for a cell of `tier`, seen before anything is
        drawn: previewed on the first frame, it measures under its floor or in another tier;
        or its layout moves other content, or a layout-only change moves nothing drawn, or
        less than its floor. The group's mutations carry the measure foretold where there is
        one; None: try it."""
        with stats.timed("preview"):
            previewed = self._preview(before, group)
        if previewed is not None:
            reason = faint([(m.visibility[1], self.catalogue[m.operator].visibility.floor or 0.0)
                            for m in previewed if m.visibility]) or self._elsewhere(previewed,
                                                                                   tier)
            if reason is None:
                return None
            stats.count("candidates", "foreseen", reason)
            return reason, previewed
        if not all(TABLE.mechanisms[m.mechanism].in_place for m in group) or all(
                self.catalogue[m.operator].layout == "unchanged" for m in group):
            return None
        probes = []
        with stats.timed("probe"):
            for m in group:
                probe = await loaded.probe(m)
                if probe is None:
                    return None  # the try will say why it cannot be applied
                spec = self.catalogue[m.operator]
                edge = spec.visibility.measure == "edge_shift"
                probes.append(Probed(probe, spec.layout == "only", "paint" in m.element.flags,
                                     spec.visibility.floor if edge else None))
        reason = foreseen(probes)
        if reason is None:
            return None
        stats.count("candidates", "foreseen", reason)
        return reason, [replace(m, visibility=("edge_shift", p.drawn_shift))
                        if p.edge_floor is not None else m
                        for m, p in zip(group, probes, strict=True)]

    def _elsewhere(self, previewed: list[Mutation], tier: str) -> str | None:
        """OTHER_TIER when no previewed measure, nor one a little off it, lands in `tier`."""
        for m in previewed:
            spec = self.catalogue[m.operator]
            if m.visibility is None or any(
                    spec.visibility_tier(m.visibility[1] * k) in (tier, None)
                    for k in (1 - PREVIEW_ERROR, 1.0, 1 + PREVIEW_ERROR)):
                return None
        return OTHER_TIER

    def _preview(self, before: Shot, group: list[Mutation]) -> list[Mutation] | None:
        """The group with each change's measure previewed on the first frame
        (`visibility.preview`); None unless every change can be."""
        previewed = []
        for m in group:
            spec = self.catalogue[m.operator]
            rule = spec.visibility
            if rule.preview != "blend" or rule.measure is None:
                return None
            old, new = first_number(m.old_value), first_number(m.new_value)
            after = (preview.blend(before.pixels, m.element.box, old, new)
                     if old is not None and new is not None else None)
            if after is None:
                return None
            box = grow_box(m.element.box, round(spec.spread * m.magnitude))
            value = measure_visibility(before.pixels, after, diff_mask(before.pixels, after), box,
                                       self.cfg.gate.visible_delta_e, (rule.measure,)
                                       ).get(rule.measure)
            previewed.append(replace(m, visibility=(rule.measure, value)))
        return previewed

    @staticmethod
    def _counts(cells: Sequence[Cell], pair: Pair) -> bool:
        """Whether an accepted pair is one the plan asks for (its applied tier may differ
        from the one aimed at)."""
        tier = hardest([m.tier for m in pair.mutations])
        operator = "+".join(m.operator for m in pair.mutations)
        return any(matches(cell, operator, tier) for cell in cells)

    async def _scales(self, loaded: LoadedPage, stats: Stats) -> Scales | None:
        """The page's utility scales, when an operator has a class-swap twin."""
        if not any(spec.class_swap for spec in self.catalogue.values()):
            return None
        sheets = await loaded.stylesheets()
        r = self.cfg.render
        with stats.timed("scales"):
            scales = await asyncio.to_thread(discover, sheets, Viewport(r.width, r.height))
        stats.count("pages", "with_scales" if scales.scales else "without_scales")
        return scales

    async def _measure(self, result: PageResult, embed: int | None) -> None:
        """SSIM of the frame and of the target box, where the change actually is (its
        connected regions and the box of them all, Img-Diff's difference area), and the
        clip_distance of the rows this unit embeds (`PageUnit.embed`)."""
        pairs, stats = result.pairs, result.stats
        with stats.timed("ssim_regions"):
            await asyncio.to_thread(self._change_measures, pairs)
        if embed is None:
            return
        visual = [p for p in pairs if p.task_type == "visual_diff"]
        visual, rest = visual[:embed], visual[embed:]
        for pair in visual + [p for p in pairs if p.task_type == "no_diff"]:
            if "clip_distance" in pair.metrics:  # the gate needed it
                continue
            distance = await self._clip_distance(pair.before, pair.after, stats)
            if distance is None:
                return
            pair.metrics["clip_distance"] = distance
        if self._embeddings is not None and rest:
            # one screenshot object a before-frame: hashed once, not once a pair
            befores = {id(p.before): p.before for p in rest}
            result.frame_vectors = self._embeddings.export(list(befores.values()))

    @staticmethod
    def _change_measures(pairs: list[Pair]) -> None:
        for pair in pairs:
            before, after = pair.before.pixels, pair.after.pixels
            changed = diff_mask(before, after)
            pair.regions = change_regions(changed, merge_gap=2)
            pair.metrics["ssim"] = frame_ssim(before, after, union_box(pair.regions))
            pair.metrics["ssim_target"] = (ssim(before, after, pair.target_box, changed)
                                           if pair.target_box else pair.metrics["ssim"])

    async def _clip_distance(self, before: Shot, after: Shot, stats: Stats) -> float | None:
        """The embedding distance of one pair (the before image embedded once per page), for
        the gate's bound on it or for a row this unit embeds; None when no embedder is
        configured."""
        async with self._embedding:
            if self._embeddings is None:
                embedder = await asyncio.to_thread(load_embedder, self.cfg.clip)
                if embedder is None:
                    return None
                self._embeddings = EmbeddingCache(embedder)
            with stats.timed("clip"):
                embedded = self._embeddings.embedded
                (distance,) = await asyncio.to_thread(
                    self._embeddings.distances, [(before, after)])
            stats.count("clip", "images_embedded", n=self._embeddings.embedded - embedded)
        stats.count("clip_models", self._embeddings.embedder.label)
        return distance

    async def _try_on(self, page: Page, loaded: LoadedPage, before: Shot,
                      group: list[Mutation], stats: Stats) -> TryOutcome:
        if not self.cfg.sampling.reload_per_try:
            return await self.try_pair(loaded, before, group, stats)
        with stats.timed("load"):
            fresh = await self.renderer.open(page)
        try:
            return await self.try_pair(fresh, before, group, stats)
        finally:
            self._add_timings(stats, fresh)
            await fresh.close()

    def _keep(self, result: PageResult, reason: str | None) -> bool:
        return sum(r.reason == reason for r in result.rejects) < self.keep_rejects

    async def try_pair(self, loaded: LoadedPage, before: Shot, group: list[Mutation],
                       stats: Stats) -> TryOutcome:
        """Apply every mutation of the group, screenshot, revert, measure; the gate decides."""
        stats.count("candidates", "tried")
        for m in group:
            stats.count("operators", m.operator, "tried")
        placed: list[Placed] = []
        boxes: list[Box] = []
        with stats.timed("apply"):
            for m in group:
                spec = self.catalogue[m.operator]
                applied = await loaded.apply(m, read=spec.read or spec.property)
                placed.append(self._placed(m, applied))
                if not placed[-1].as_planned:
                    break
                box = union_box([applied.before, applied.after])
                boxes.append(grow_box(box, round(spec.spread * m.magnitude)))
        measures = Measures(placed=tuple(placed), boxes=tuple(boxes))
        after = await loaded.screenshot() if measures.as_planned else None
        with stats.timed("revert"):
            restored = await loaded.revert(before)
        if after is None:
            reason = verdict(measures, self.cfg.gate)
            self._count(stats, group, reason)
            return TryOutcome(None, reason, restored)
        with stats.timed("gate"):
            mask = diff_mask(before.pixels, after.pixels)
            metrics = pair_metrics(mask, boxes, self.cfg.gate.margin_px)
        with stats.timed("visibility"):
            group = self._with_visibility(group, before.pixels, after.pixels, mask, boxes)
        measures = replace(measures, **metrics, visibility=tuple(
            (m.visibility[1], self.catalogue[m.operator].visibility.floor) for m in group))
        metrics["visibility"] = min(m.visibility[1] for m in group)
        if wants_clip_distance(measures, self.cfg.gate):
            distance = await self._clip_distance(before, after, stats)
            if distance is not None:
                metrics["clip_distance"] = distance
                measures = replace(measures, clip_distance=distance)
        reason = verdict(measures, self.cfg.gate)
        self._count(stats, group, reason)
        r = self.cfg.render
        described = [describe_element(m.element, r.width, r.height) for m in group]
        pair = Pair(
            page=loaded.page, before=before, after=after, mutations=group,
            target_box=union_box(boxes), metrics=metrics, language=loaded.language or "und",
            sentence=" ".join(sentence(self.catalogue[m.operator], m, d)
                              for m, d in zip(group, described, strict=True)),
            descriptions=described, boxes=boxes,
        )
        return TryOutcome(pair, reason, restored)

    def _placed(self, m: Mutation, applied: Applied) -> Placed:
        """What applying one mutation measured, for the gate. A twin (class swap, rule edit)
        changes the page's own CSS, whose cascade may give another value: the value the
        browser computes is read against the one ground truth states."""
        if applied.error:
            return Placed(m.mechanism, failed=True)
        shows = not TABLE.mechanisms[m.mechanism].twin_of or class_swap.holds(
            self.catalogue[m.operator], m.element, m.new_value, applied.computed)
        return Placed(m.mechanism, shows_value=shows, resolves=applied.resolves)

    def _with_visibility(self, group: list[Mutation], before: np.ndarray, after: np.ndarray,
                         mask: np.ndarray, boxes: list[Box]) -> list[Mutation]:
        """Each mutation with its measured visibility and the tier that measure gives (the
        magnitude's tier when the operator has no calibrated bounds)."""
        out = []
        for m, box in zip(group, boxes, strict=True):
            spec = self.catalogue[m.operator]
            name = spec.visibility.measure
            value = measure_visibility(before, after, mask, box, self.cfg.gate.visible_delta_e,
                                       (name,)).get(name)
            out.append(dataclasses.replace(m, visibility=(name, value),
                                           tier=spec.visibility_tier(value) or m.tier))
        return out

    @staticmethod
    def _count(stats: Stats, group: list[Mutation], reason: str | None) -> None:
        for m in group:
            stats.count("cells", m.operator, m.tier, "tried")
            stats.count("cells", m.operator, m.tier, *(("rejected", reason) if reason
                                                       else ("accepted",)))
            stats.count("mechanisms", mechanism_name(m.mechanism),
                        "accepted" if reason is None else "rejected")
            stats.count("mechanisms", mechanism_name(m.mechanism), "by_operator", m.operator,
                        reason or "accepted")
        if reason is not None:
            stats.count("candidates", "rejected", reason)
            for m in group:
                stats.count("operators", m.operator, "rejected", reason)
            return
        stats.count("candidates", "accepted")
        for m in group:
            stats.count("operators", m.operator, "accepted")
            stats.count("operators", m.operator, "accepted_by_tier", m.tier)

    async def _no_diff(self, page: Page, before: Shot, language: str, stats: Stats) -> Pair:
        """The same page loaded again in a fresh context: its measured diff is expected to be 0."""
        with stats.timed("load"):
            second = await self.renderer.open(page)
        try:
            after = await second.stable_screenshot()
        finally:
            self._add_timings(stats, second)
            await second.close()
        metrics = pair_metrics(diff_mask(before.pixels, after.pixels), [], 0)
        stats.count("no_diff", "made")
        if metrics["pixel_diff"] > 0:
            stats.count("no_diff", "nonzero_diff")
        return Pair(page=page, before=before, after=after, mutations=[], target_box=None,
                    metrics=metrics, language=language or "und", sentence=NO_DIFF_SENTENCE,
                    task_type="no_diff")
