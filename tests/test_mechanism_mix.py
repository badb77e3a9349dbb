"""A split's mechanism mix: selection keeps each mechanism to its share and reports the fill;
waves keep planning for the mechanism still short."""

from __future__ import annotations

import pytest

from spotdiff.config import ConfigError
from spotdiff.generator.selection import Quota, load_split, mechanism_fill, select
from spotdiff.generator.waves import Outcome, Waves
from spotdiff.records import Page


def test_selection_holds_each_mechanism_to_its_share():
    quota = Quota({("*", "*"): 6}, max_per_page=2, mechanisms={"inline": 0.5, "class_swap": 0.5})
    rows = [[("color", "easy"), ("font_size", "hard")]] * 6
    mechs = [["inline", "inline"], ["inline", "class_swap"], ["inline", "inline"],
             ["inline", "inline"], ["class_swap", "class_swap"], ["inline", "text"]]
    chosen = select(rows, [f"d{i}" for i in range(6)], quota, mechs)
    picked = [mechs[u][i] for u, picks in enumerate(chosen) for i in picks]
    assert sorted(picked) == ["class_swap"] * 3 + ["inline"] * 3
    assert "text" not in picked  # a mechanism the mix does not name is not selected
    fill = mechanism_fill(mechs, chosen, quota)
    assert fill == {"inline": [3, 3, 8], "class_swap": [3, 3, 3]}


def test_without_a_mix_selection_is_unchanged():
    quota = Quota({("*", "*"): 3}, max_per_page=1)
    rows = [[("color", "easy")]] * 4
    assert select(rows, ["a", "b", "c", "d"], quota, [["class_swap"]] * 4) == \
        select(rows, ["a", "b", "c", "d"], quota)
    assert mechanism_fill([["inline"]] * 4, [[0], [0], [0], []], quota) == {}


def test_a_mix_over_one_is_refused(tmp_path):
    split = tmp_path / "s.yaml"
    split.write_text("mechanisms: {inline: 0.8, class_swap: 0.5}\n")
    with pytest.raises(ConfigError, match="mechanisms"):
        load_split(split)


def test_waves_plan_for_the_mix_once_a_mechanism_holds_its_share():
    """Cells filled by the mechanism already at its share are still short, and the pages dealt
    next try only the mechanism the mix still lacks."""
    quota = Quota({("color", "easy"): 2, ("opacity", "easy"): 2}, max_per_page=1,
                  mechanisms={"inline": 0.5, "class_swap": 0.5})
    pages = [Page(url=f"http://127.0.0.1:8000/{i}.html") for i in range(20)]
    plan = Waves(pages, quota, 0, 0, unit_quota=12, tries_per_page=80, tries_per_cell=2)
    first = plan.next({})
    assert all(u.plan.mechanisms is None for u in first)  # both short: the run's own mix
    outcomes = {u.index: Outcome([u.plan.cells[0]], "docs", 0, {u.plan.cells[0]: (1, 1)},
                                 ["inline"]) for u in first}  # each gave its cell, inline
    second = plan.next(outcomes)
    assert plan.need_now.cells == {("color", "easy"): 1, ("opacity", "easy"): 1}
    assert second and all(u.plan.mechanisms == {"class_swap": 1.0} for u in second)


def test_the_scarcer_mechanism_is_selected_first():
    """A cell both mechanisms gave goes to the scarcer one, so the common one fills another."""
    quota = Quota({("color", "easy"): 1, ("opacity", "easy"): 1}, max_per_page=1,
                  mechanisms={"inline": 0.5, "class_swap": 0.5})
    rows = [[("color", "easy")], [("color", "easy")], [("opacity", "easy")]]
    mechs = [["inline"], ["class_swap"], ["inline"]]
    assert select(rows, ["a", "b", "c"], quota, mechs) == [[], [0], [0]]
    assert mechanism_fill(mechs, [[], [0], [0]], quota) == {"inline": [1, 1, 2],
                                                             "class_swap": [1, 1, 1]}
