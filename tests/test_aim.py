"""Aiming a cell's tries at its tier's visibility band: the next try on the same element scales
the magnitude toward the band (pure; the bench and the split tests drive real pages)."""

import math
from dataclasses import replace

import numpy as np

from spotdiff.config import load_config
from spotdiff.mutators import aim
from spotdiff.mutators.catalogue import load_catalogue
from spotdiff.mutators.planner import page_context, plan
from spotdiff.records import Element

CATALOGUE = load_catalogue(load_config().operator_paths())


def element(index=0, size=(100, 16), styles=None):
    return Element(index, f"#e{index}", f"/e{index}", "p", "paragraph", "Total revenue grew",
                   "", (10, 10, *size), frozenset({"text", "short_text", "leaf"}),
                   {"font-size": "16px", "font-weight": "400", "line-height": "20px",
                    "letter-spacing": "normal", "opacity": "1", "color": "rgb(20, 20, 20)",
                    **(styles or {})})


def first(items):
    return next(m for _, m in items if not isinstance(m, str))


def test_the_factor_points_at_the_middle_of_the_band_and_none_inside_it():
    spec = CATALOGUE["font_size"]  # edge_shift, floor 3, bounds [5, 17]
    assert aim.band(spec, "hard") == (3.0, 5.0)
    assert aim.factor(spec, "hard", 4.0) is None
    assert math.isclose(aim.factor(spec, "hard", 10.0), math.sqrt(15) / 10)
    assert aim.factor(spec, "hard", 1.0) == aim.STEP  # clipped
    assert aim.factor(spec, "easy", 0.0) == aim.STEP
    assert aim.factor(spec, "easy", 40.0) is None
    assert aim.factor(spec, "medium", 40.0) == 1 / aim.STEP


def test_a_try_measured_in_another_tier_is_tried_again_smaller_on_the_same_element():
    spec = CATALOGUE["font_size"]
    elements = [element(i) for i in range(6)]
    cell = aim.Aim("hard")
    tries = plan(elements, {"font_size": spec}, np.random.default_rng(0), page_context(elements),
                 (1280, 800), ("hard",), aim=cell)
    m = first(tries)
    # it measured medium (10 px of edge shift): kept, but not in the cell
    cell.observe(spec, [replace(m, visibility=("edge_shift", 10.0), tier="medium")], None)
    again = first(tries)
    assert again.element == m.element and again.direction == m.direction
    assert again.magnitude < m.magnitude and again.magnitude_range is None
    assert again.tier == "hard"
    # the retry lands in the band: the next try is a new element drawn as before
    cell.observe(spec, [replace(again, visibility=("edge_shift", 4.0), tier="hard")], None)
    assert first(tries).element != m.element


def test_an_invisible_try_is_tried_again_larger_at_most_twice():
    spec = CATALOGUE["opacity"]  # visible_px, floor 400
    elements = [element(i, size=(150, 30)) for i in range(6)]
    cell = aim.Aim("hard")
    tries = plan(elements, {"opacity": spec}, np.random.default_rng(1), page_context(elements),
                 (1280, 800), ("hard",), aim=cell)
    m = first(tries)
    seen = [m]
    for _ in range(aim.RETRIES):
        cell.observe(spec, [replace(seen[-1], visibility=("visible_px", 50.0))], "invisible")
        seen.append(first(tries))
    assert {s.element.index for s in seen} == {m.element.index}
    assert [s.magnitude for s in seen] == sorted(s.magnitude for s in seen)
    assert seen[-1].magnitude > m.magnitude
    cell.observe(spec, [replace(seen[-1], visibility=("visible_px", 50.0))], "invisible")
    assert first(tries).element != m.element  # retries spent: another element


def test_a_change_that_moved_other_content_is_tried_once_the_other_way():
    spec = CATALOGUE["line_height"]  # direction: either
    elements = [element(i) for i in range(4)]
    cell = aim.Aim("hard")
    tries = plan(elements, {"line_height": spec}, np.random.default_rng(2),
                 page_context(elements), (1280, 800), ("hard",), aim=cell)
    m = first(tries)
    cell.observe(spec, [replace(m, visibility=("edge_shift", 30.0))], "contaminated")
    back = first(tries)
    assert back.element.index == m.element.index
    assert {back.direction, m.direction} == {"increase", "decrease"}
    cell.observe(spec, [replace(back, visibility=("edge_shift", 30.0))], "contaminated")
    assert first(tries).element.index != m.element.index  # once: then another element


def test_other_rejections_are_not_aimed():
    spec = CATALOGUE["color"]  # no direction to turn
    elements = [element(i) for i in range(4)]
    cell = aim.Aim("hard")
    tries = plan(elements, {"color": spec}, np.random.default_rng(2),
                 page_context(elements), (1280, 800), ("hard",), aim=cell)
    for reason in ("contaminated", "apply_failed"):
        m = first(tries)
        cell.observe(spec, [replace(m, visibility=("visible_px", 3000.0))], reason)
        assert first(tries).element.index != m.element.index


def test_a_pixel_counted_measure_that_the_magnitude_cannot_move_draws_by_area():
    spec = CATALOGUE["font_weight"]  # steps: one step is the least it moves
    # twelve elements of distinct sizes the hard tier admits (under 0.3% of the viewport)
    elements = [element(i, size=(20 + 6 * i, 12 + i)) for i in range(12)]
    for seed in range(4):
        cell = aim.Aim("hard")
        tries = plan(elements, {"font_weight": spec}, np.random.default_rng(seed),
                     page_context(elements), (1280, 800), ("hard",), aim=cell)
        m = replace(first(tries), magnitude=1.0)
        # one step measured medium: 1,500 px, about 9 times the band's middle (166 px)
        cell.observe(spec, [replace(m, visibility=("visible_px", 1500.0), tier="medium")], None)
        area = m.element.box[2] * m.element.box[3] / aim.STEP
        rest = [e for e in elements if e != m.element]
        nearest = min(rest, key=lambda e: abs(math.log(e.box[2] * e.box[3] / area)))
        assert first(tries).element == nearest
