"""Tiers that follow visible magnitude: value operators are tiered by the size of the change and
of the element changed, so an easy colour change is a large one on a large element."""

import numpy as np
import pytest

from spotdiff.config import CandidateConfig, ConfigError
from spotdiff.generator.page_job import style_properties
from spotdiff.generator.sources import pages_from_site, serve_directory
from spotdiff.mutators.catalogue import load_catalogue
from spotdiff.mutators.planner import area_percent, page_context, plan
from spotdiff.records import TIERS
from spotdiff.renderer.session import Renderer
from tests.conftest import REPO, run

SAMPLE_WEB = REPO / "spotdiff" / "sampleweb" / "site"
OPERATOR = """operators:
  - name: shade
    family: color
    mechanism: style
    property: color
    label: text colour
    value: VALUE
    tiers: {easy: [30, 60], medium: [15, 30], hard: [5, 15]}
    template: "The {element} changed colour."
"""


def write_operator(tmp_path, extra: str, value: str = "{kind: color}"):
    path = tmp_path / "ops.yaml"
    path.write_text(OPERATOR.replace("VALUE", value).replace("    template:",
                                                             f"{extra}    template:"))
    return path


def test_tier_areas_need_every_tier(tmp_path):
    path = write_operator(tmp_path, "    tier_areas: {easy: [1, 100], hard: [0, 1]}\n")
    with pytest.raises(ConfigError, match=r"operators\[shade\].*tier_areas must define medium"):
        load_catalogue([path])


def test_tier_areas_are_refused_where_tiers_are_areas_already(tmp_path):
    path = write_operator(
        tmp_path, "    magnitude: area\n"
        "    tier_areas: {easy: [1, 100], medium: [0.2, 1], hard: [0, 0.2]}\n",
        value="{kind: keyword, values: [red]}")
    with pytest.raises(ConfigError, match=r"\[shade\].*tier_areas is for operators tiered by"):
        load_catalogue([path])


def test_tier_areas_with_a_gap_are_refused(tmp_path):
    """Elements of 1.2–2.5 % could go in no tier: the catalogue says so at load."""
    path = write_operator(
        tmp_path, "    tier_areas: {easy: [2.5, 100], medium: [0.15, 1.2], hard: [0, 0.3]}\n")
    with pytest.raises(ConfigError, match=r"\[shade\].*elements of 1.2–2.5 % .* in no tier"):
        load_catalogue([path])


def test_tier_of_needs_both_the_value_and_the_area(tmp_path):
    path = write_operator(
        tmp_path, "    tier_areas: {easy: [1, 100], medium: [0.2, 2], hard: [0, 0.5]}\n")
    spec = load_catalogue([path])["shade"]
    assert spec.tier_of(40, area=5) == "easy"
    assert spec.tier_of(40, area=0.3) is None  # a large change on a small element: no tier
    assert spec.tier_of(20, area=1.5) == "medium"
    assert spec.tier_of(8, area=0.1) == "hard"
    assert spec.tiers_for_area(0.4) == ["medium", "hard"]


def test_planned_tiers_admit_the_element_on_real_pages(cfg):
    """Every mutation planned on the sample web is in a tier whose value range holds its
    magnitude and whose area range holds its element; every tier of a value operator with
    area bounds gets planned somewhere."""
    catalogue = load_catalogue(cfg.operator_paths())

    async def planned_on_sample_web():
        out = []
        with serve_directory(SAMPLE_WEB) as base:
            async with Renderer(cfg.browser, cfg.render) as renderer:
                for page in pages_from_site(SAMPLE_WEB, base)[:6]:
                    loaded = await renderer.open(page)
                    elements = await loaded.elements(CandidateConfig(), style_properties(catalogue))
                    await loaded.close()
                    rng = np.random.default_rng(0)
                    out += [m for _, m in plan(elements, catalogue, rng, page_context(elements),
                                               (1280, 800)) if not isinstance(m, str)]
        return out

    mutations = run(planned_on_sample_web())
    seen = set()
    for m in mutations:
        spec = catalogue[m.operator]
        area = area_percent(m.element, (1280, 800))
        assert spec.tier_of(m.magnitude, area) == m.tier, (m.operator, m.magnitude, area)
        if spec.tier_areas is not None:
            lo, hi = spec.tier_areas[m.tier]
            assert lo - 1e-9 <= area <= hi + 1e-9
            seen.add((m.operator, m.tier))
    bounded = [n for n, s in catalogue.items() if s.tier_areas is not None]
    assert len(bounded) >= 10
    missing = {(op, t) for op in bounded for t in TIERS} - seen
    assert len(missing) <= len(bounded), sorted(missing)  # most cells reachable on 6 pages
