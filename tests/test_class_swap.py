"""The class-swap twin on a real Tailwind page in Chromium: each value operator with a matching
scale swaps the element's own utility class, the gate accepts the pair, and ground truth names
the mechanism, both classes and the computed values the sentence uses."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from spotdiff.config import CandidateConfig
from spotdiff.export.rows import mutation_dict
from spotdiff.generator.page_job import PageJob, style_properties
from spotdiff.generator.stats import Stats
from spotdiff.mutators.catalogue import load_catalogue
from spotdiff.mutators.planner import page_context, plan
from spotdiff.mutators.stylesheets import Viewport, discover
from spotdiff.records import Page
from spotdiff.renderer.session import Renderer
from tests.conftest import run

# DiffSpot's value operators a Tailwind page gives a twin for, and the ones beyond its 13
TWINS = {"font_size", "font_weight", "letter_spacing", "line_height", "color", "opacity",
         "spacing", "justify", "border", "rounded"}
EXTRA = {"background_color", "border_color", "text_transform", "text_decoration"}


async def swap_each(cfg, url):
    catalogue = load_catalogue(cfg.operator_paths())
    async with Renderer(cfg.browser, cfg.render) as renderer:
        loaded = await renderer.open(Page(url=url))
        elements = await loaded.elements(CandidateConfig(), style_properties(catalogue))
        scales = discover(await loaded.stylesheets(), Viewport(1280, 800))
        before = await loaded.screenshot()
        job = PageJob(renderer, catalogue, cfg)
        first: dict = {}
        for seed in range(3):  # a few plans: small steps on small elements measure invisible
            for name, item in plan(elements, catalogue, np.random.default_rng(seed),
                                   page_context(elements), (1280, 800), scales=scales,
                                   mechanisms={"class_swap": 1.0}):
                if isinstance(item, str) or name in first:
                    continue
                outcome = await job.try_pair(loaded, before, [item], Stats())
                if outcome.reason is None:
                    first[name] = (item, outcome.pair)
        pinned = next(e for e in elements if e.selector == "#tw-pinned")
        overridden = await job.try_pair(loaded, before, [replace(
            next(m for m, _ in first.values() if m.operator == "font_size"), element=pinned,
            old_class="text-sm", new_class="text-lg", old_value="14px", new_value="18px")],
            Stats())
        await loaded.close()
    return catalogue, scales, first, overridden


@pytest.fixture(scope="module")
def swapped(cfg, test_site):
    return run(swap_each(cfg, test_site + "tailwind/index.html"))


def test_every_value_operator_with_a_scale_gets_an_accepted_class_swap(swapped):
    catalogue, scales, first, _ = swapped
    assert set(first) >= TWINS | EXTRA, sorted((TWINS | EXTRA) - set(first))
    for name, (m, pair) in first.items():
        assert m.mechanism == "class_swap" and m.old_class in m.element.classes
        (scale,) = [s for s in scales.of(m.old_class) if m.new_class in
                    [u.name for u in s.members]]
        assert m.steps == abs(scale.index(m.new_class) - scale.index(m.old_class)) >= 1
        assert m.tier == catalogue[name].tier_of(
            m.magnitude, 100 * m.element.box[2] * m.element.box[3] / (1280 * 800)), name
        assert pair.metrics["target_diff"] > 0
        assert m.old_value in pair.sentence and m.new_value in pair.sentence or (
            catalogue[name].magnitude == "area")


def test_ground_truth_names_the_mechanism_and_both_classes(swapped):
    _, _, first, _ = swapped
    m, pair = first["font_weight"]
    d = json.loads(json.dumps(mutation_dict(m, pair.descriptions[0], pair.boxes[0], "t")))
    assert d["mechanism"] == "class_swap"
    assert (d["old_class"], d["new_class"]) == (m.old_class, m.new_class)
    assert d["old_value"] in ("300", "400", "500", "600", "700", "800")
    assert d["property"] == "font-weight"


def test_a_class_outranked_by_the_page_is_rejected_not_mislabelled(swapped):
    *_, overridden = swapped
    assert overridden.reason == "class_swap_overridden" and overridden.restored
