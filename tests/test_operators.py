"""Each operator changes its property on a real page in real Chromium, and the gate accepts it."""

import numpy as np
import pytest

from spotdiff.config import CandidateConfig
from spotdiff.generator.page_job import PageJob, style_properties
from spotdiff.generator.stats import Stats
from spotdiff.mutators.catalogue import load_catalogue
from spotdiff.mutators.planner import area_percent, eligible, page_context
from spotdiff.mutators.values import derive
from spotdiff.records import Mutation, Page
from spotdiff.renderer.session import Renderer
from tests.conftest import run

# operator → the element of tests/pages/catalogue.html it is tried on (each in a fixed cell)
TARGETS = {
    "font_size": "#t-heading", "font_weight": "#t-heading", "color": "#t-heading",
    "text": "#t-heading", "letter_spacing": "#t-para", "line_height": "#t-para",
    "text_decoration": "#t-para", "text_transform": "#t-para", "justify": "#t-block",
    "background_color": "#t-button", "opacity": "#t-button", "visibility": "#t-button",
    "box_shadow": "#t-button", "rounded": "#t-button", "rotate": "#t-button",
    "position": "#t-button", "spacing": "#t-button", "gradient": "#t-solid",
    "border": "#t-boxed", "border_color": "#t-boxed", "size": "#t-sun", "substitute": "#t-sun",
    "layout": "#t-row", "remove": "#t-first", "add": "#t-first", "order_swap": "#t-first",
}


def mutation_for(spec, element, ctx, tier="easy") -> Mutation:
    lo, hi = spec.tiers[tier]
    change = derive(spec, element, (lo + hi) / 2, np.random.default_rng(1), ctx)
    assert change is not None, f"{spec.name}: no value derived for {element.selector}"
    magnitude = (area_percent(element, (1280, 800)) if spec.magnitude == "area"
                 else change.magnitude)
    return Mutation(operator=spec.name, mechanism=spec.mechanism, element=element,
                    property=spec.property, old_value=change.old, new_value=change.new,
                    direction=change.direction, magnitude=magnitude,
                    tier=spec.tier_of(magnitude),
                    css_value=spec.format.format(value=change.new, old=change.old))


async def apply_each(cfg, url, operators):
    catalogue = load_catalogue(cfg.operator_paths())
    results = {}
    async with Renderer(cfg.browser, cfg.render) as renderer:
        loaded = await renderer.open(Page(url=url))
        elements = await loaded.elements(CandidateConfig(), style_properties(catalogue))
        by_selector = {e.selector: e for e in elements}
        before = await loaded.screenshot()
        job = PageJob(renderer, catalogue, cfg)
        for op in operators:
            spec = catalogue[op]
            element = by_selector[TARGETS[op]]
            assert eligible(spec, element), f"{op} does not qualify {element.selector}"
            m = mutation_for(spec, element, page_context(elements))
            applied = await loaded.apply(m)
            await loaded.revert()
            stats = Stats()
            outcome = await job.try_pair(loaded, before, [m], stats)
            pair = outcome.pair if outcome.reason is None else None
            results[op] = (m, applied, pair, stats)
        await loaded.close()
    return results


@pytest.fixture(scope="module")
def outcomes(cfg, test_site):
    return run(apply_each(cfg, test_site + "catalogue.html", sorted(TARGETS)))


def test_every_catalogue_operator_is_covered(cfg):
    assert set(load_catalogue(cfg.operator_paths())) == set(TARGETS)


@pytest.mark.parametrize("op", sorted(TARGETS))
def test_operator_changes_its_property_and_passes_the_gate(outcomes, op, cfg):
    m, applied, pair, stats = outcomes[op]
    assert not applied.error
    assert m.new_value != m.old_value
    if m.mechanism == "style":
        assert applied.computed != m.element.styles.get(m.property)
    assert pair is not None, f"{op} rejected: {stats.data}"
    assert pair.metrics["target_diff"] > 0
    assert pair.metrics["outside_diff"] <= cfg.gate.max_outside_diff
    assert pair.sentence[:1].isupper() and m.tier in ("easy", "medium", "hard")
    x, y, w, h = pair.target_box
    changed = np.argwhere(np.any(pair.before.pixels != pair.after.pixels, axis=2))
    assert changed[:, 0].min() >= y - 3 and changed[:, 1].min() >= x - 3


def test_reflow_causing_change_is_rejected_as_contaminated(cfg, test_site):
    async def body():
        catalogue = load_catalogue(cfg.operator_paths())
        async with Renderer(cfg.browser, cfg.render) as renderer:
            loaded = await renderer.open(Page(url=test_site + "basic.html"))
            elements = await loaded.elements(CandidateConfig(), style_properties(catalogue))
            lede = next(e for e in elements if e.selector == "#lede")
            before = await loaded.screenshot()
            big = Mutation(operator="font_size", mechanism="style", element=lede,
                           property="font-size", old_value="16px", new_value="30px",
                           direction="increase", magnitude=14, tier="easy")
            stats = Stats()
            outcome = await PageJob(renderer, catalogue, cfg).try_pair(
                loaded, before, [big], stats)
            assert outcome.reason == "contaminated" and outcome.pair is not None
            pair = outcome.pair
            await loaded.close()
            return pair, stats

    pair, stats = run(body())
    assert stats.get("candidates", "rejected", "contaminated") == 1


def test_a_border_width_changes_by_whole_pixels(outcomes):
    """`step: 1`: a border is drawn in whole pixels, so a fractional width states a change the
    screenshot does not show."""
    m, _, pair, _ = outcomes["border"]
    assert pair is not None
    assert float(m.new_value.removesuffix("px")).is_integer()
    assert float(m.magnitude).is_integer()
