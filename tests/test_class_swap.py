"""The class-swap twin on a real Tailwind page in Chromium: each value operator with a matching
scale swaps the element's own utility class, or adds one of a scale to an element that carries
none, the gate accepts the pair, and ground truth names the mechanism, both classes (no old one
for an added class) and the computed values the sentence uses."""

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
        first: dict = {}  # the first accepted swap of a class the element carries
        added: dict = {}  # the first accepted class added to an element with none of its scale
        for seed in range(3):  # a few plans: small steps on small elements measure invisible
            for name, item in plan(elements, catalogue, np.random.default_rng(seed),
                                   page_context(elements), (1280, 800), scales=scales,
                                   mechanisms={"class_swap": 1.0}):
                found = first if isinstance(item, str) or item.old_class is not None else added
                if isinstance(item, str) or name in found:
                    continue
                outcome = await job.try_pair(loaded, before, [item], Stats())
                if outcome.reason is None:
                    found[name] = (item, outcome.pair)
        pinned = next(e for e in elements if e.selector == "#tw-pinned")
        overridden = await job.try_pair(loaded, before, [replace(
            next(m for m, _ in first.values() if m.operator == "font_size"), element=pinned,
            old_class="text-sm", new_class="text-lg", old_value="14px", new_value="18px")],
            Stats())
        await loaded.close()
    return catalogue, scales, first, overridden, added


@pytest.fixture(scope="module")
def swapped(cfg, test_site):
    return run(swap_each(cfg, test_site + "tailwind/index.html"))


def test_every_value_operator_with_a_scale_gets_an_accepted_class_swap(swapped):
    catalogue, scales, first, *_ = swapped
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
    _, _, first, *_ = swapped
    m, pair = first["font_weight"]
    d = json.loads(json.dumps(mutation_dict(m, pair.descriptions[0], pair.boxes[0], "t")))
    assert d["mechanism"] == "class_swap"
    assert (d["old_class"], d["new_class"]) == (m.old_class, m.new_class)
    assert d["old_value"] in ("300", "400", "500", "600", "700", "800")
    assert d["property"] == "font-weight"


def test_a_class_outranked_by_the_page_is_rejected_not_mislabelled(swapped):
    *_, overridden, _ = swapped
    assert overridden.reason == "class_swap_overridden" and overridden.restored


async def circle_swaps(cfg, page):
    catalogue = load_catalogue(cfg.operator_paths())
    spec = catalogue["rounded"]
    async with Renderer(cfg.browser, cfg.render) as renderer:
        loaded = await renderer.open(page)
        elements = await loaded.elements(CandidateConfig(), style_properties(catalogue))
        scales = discover(await loaded.stylesheets(), Viewport(1280, 800))
        before = await loaded.stable_screenshot()
        job = PageJob(renderer, catalogue, cfg)
        circles = [e for e in elements if "rounded-circle" in e.classes and e.tag == "svg"]
        outcomes, stats = [], Stats()
        for _, item in plan(circles, {"rounded": spec}, np.random.default_rng(0),
                            page_context(elements), (1280, 800), scales=scales,
                            mechanisms={"class_swap": 1.0}):
            if not isinstance(item, str):
                outcomes.append((item, await job.try_pair(loaded, before, [item], stats)))
        await loaded.close()
    return circles, outcomes, stats


def test_a_circle_is_measured_as_the_corner_it_draws(cfg, serve_corpus):
    """Bootstrap's `rounded-circle` (50%) on a 140 px placeholder image draws a 70 px corner:
    images qualify (a radius clips them), the percentage is read against the box, and swapping
    it for a px radius of the scale is an accepted, easy class swap stated in px."""
    page = next(p for p in serve_corpus([("bs5-examples", 34)]) if "/carousel/" in p.url)
    circles, outcomes, stats = run(circle_swaps(cfg, page))
    assert circles and all(e.box[2] == e.box[3] == 140 for e in circles)
    assert outcomes
    for m, _ in outcomes:
        assert m.old_class == "rounded-circle" and m.old_value == "70px"
        assert m.new_class.startswith("rounded") and m.new_value.endswith("px")
        assert m.magnitude == 70 - float(m.new_value[:-2]) and m.direction == "decrease"
    accepted = [m for m, o in outcomes if o.reason is None]
    assert accepted, [o.reason for _, o in outcomes]
    assert all(m.tier == "easy" for m in accepted)  # a 70 → ≤ 16 px corner on a 2% box
    # stats.json counts each twin's tries per operator by outcome (bench/mechanisms.py)
    assert stats.get("mechanisms", "class_swap", "by_operator", "rounded") == {
        reason: sum((o.reason or "accepted") == reason for _, o in outcomes)
        for reason in {o.reason or "accepted" for _, o in outcomes}}


def test_a_class_of_a_scale_is_added_where_the_element_carries_none(swapped):
    """`opacity-50` on an element with no opacity class: its opacity 1 is `opacity-100`'s, the
    step the change is counted from; ground truth has no old class."""
    catalogue, scales, _, _, added = swapped
    assert set(added) >= {"opacity", "font_weight", "letter_spacing", "line_height"}, sorted(added)
    for name, (m, pair) in added.items():
        assert m.mechanism == "class_swap" and m.old_class is None, name
        (scale,) = [s for s in scales.of(m.new_class)
                    if not {u.name for u in s.members} & set(m.element.classes)]
        assert 1 <= m.steps < len(scale.members)
        d = json.loads(json.dumps(mutation_dict(m, pair.descriptions[0], pair.boxes[0], "t")))
        assert (d["mechanism"], d["old_class"], d["new_class"]) == ("class_swap", None,
                                                                    m.new_class)
        assert m.old_value in pair.sentence and m.new_value in pair.sentence or (
            catalogue[name].magnitude == "area")
    m, _ = added["opacity"]
    assert m.old_value == "1" and m.new_class in ("opacity-25", "opacity-50", "opacity-75")


async def add_to_bare(cfg, url):
    catalogue = load_catalogue(cfg.operator_paths())
    ops = {n: catalogue[n] for n in ("opacity", "font_weight")}
    async with Renderer(cfg.browser, cfg.render) as renderer:
        loaded = await renderer.open(Page(url=url))
        elements = await loaded.elements(CandidateConfig(), style_properties(catalogue))
        scales = discover(await loaded.stylesheets(), Viewport(1280, 800))
        before = await loaded.stable_screenshot()
        job = PageJob(renderer, catalogue, cfg)
        bare = [e for e in elements if e.selector in ("#bare-note", "#bare-tile")]
        tries = []
        for _, item in plan(bare, ops, np.random.default_rng(0), page_context(elements),
                            (1280, 800), scales=scales, mechanisms={"class_swap": 1.0}):
            if isinstance(item, str):
                continue
            outcome = await job.try_pair(loaded, before, [item], Stats())
            restored = await loaded.shows(before)  # the screenshot sends the pending revert
            attribute = await loaded.evaluate(
                "s => document.querySelector(s).getAttribute('class')", item.element.selector)
            tries.append((item, outcome.reason, restored, attribute))
        await loaded.close()
    return bare, tries


def test_an_added_class_is_removed_by_the_revert(cfg, test_site):
    """On elements with no class attribute the class is added, and the revert takes away
    exactly that: no class attribute again, and the page shows its first frame."""
    bare, tries = run(add_to_bare(cfg, test_site + "tailwind/added.html"))
    assert len(bare) == 2
    assert {m.operator for m, reason, *_ in tries if reason is None} == {"opacity",
                                                                          "font_weight"}
    for m, _, restored, attribute in tries:
        assert m.old_class is None and m.element.classes == ()
        assert restored and attribute is None
