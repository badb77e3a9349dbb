"""Wave planning: which pages run next and which cells each one is dealt (pure; no browser).
Plans come from the seed, the page order and the finished units alone."""

import math
from collections import Counter
from collections.abc import Callable

from spotdiff.generator.page_job import PageUnit
from spotdiff.generator.selection import ANY, Quota, SplitConfig
from spotdiff.generator.waves import (
    FIRST_WAVE,
    GIVE_UP_AFTER,
    GIVE_UP_DEALT,
    MIN_WAVE,
    TRIES_PER_PAIR,
    Outcome,
    Waves,
)
from spotdiff.records import Page

CELLS = ["color", "opacity", "text"]


def pages(n, domain=None):
    return [Page(url=f"http://127.0.0.1:8000/{i}.html", domain=domain) for i in range(n)]


def split_quota(per_cell=2, per_page=1, share=None):
    return Quota.from_split(SplitConfig(quota_per_cell=per_cell, operators=CELLS,
                                        tiers=["easy", "hard"], max_pairs_per_page=per_page,
                                        max_domain_share=share), CELLS)


def waves(quota, n_pages=40, no_diff=3, seed=0, domain=None):
    return Waves(pages(n_pages, domain), quota, no_diff, seed, unit_quota=12,
                 tries_per_page=80, tries_per_cell=2)


def gave(unit, cells, category="docs", controls=0):
    return Outcome(cells, category, controls, {c: (2, 1) for c in cells})


def test_first_wave_deals_every_cell_and_gives_controls_pages_of_their_own():
    quota = split_quota()  # 6 cells × 2 = 12 pairs, one per page
    plan = waves(quota)
    first = plan.next({})
    controls = [u for u in first if u.no_diff]
    visual = [u for u in first if u.plan.cells]
    assert len(controls) == 3 and all(not u.plan.cells and u.no_diff == 1 for u in controls)
    assert len(visual) == max(MIN_WAVE, math.ceil(12 * FIRST_WAVE))
    assert not any(u.no_diff for u in visual)  # no URL gives a pair and a control
    primaries = [u.plan.cells[0] for u in visual]
    assert len(set(primaries)) == min(len(visual), 6)  # dealt round-robin over the cells
    for u in visual:  # then every other short cell, as fallbacks
        assert sorted(u.plan.cells) == sorted(quota.cells) and u.plan.pairs == 1
    assert len({u.index for u in first}) == len(first)


def test_the_same_seed_and_pages_give_the_same_waves_and_another_seed_other_pages():
    quota = split_quota()
    a, b, c = waves(quota), waves(quota), waves(quota, seed=1)
    first_a, first_b, first_c = a.next({}), b.next({}), c.next({})
    assert first_a == first_b
    assert [u.index for u in first_a] != [u.index for u in first_c]


def test_later_waves_deal_only_the_cells_still_short():
    quota = split_quota()
    plan = waves(quota)
    first = plan.next({})
    # every visual page gave a pair in the cell it was dealt; controls were made
    outcomes = {u.index: gave(u, [u.plan.cells[0]] if u.plan.cells else [],
                              controls=u.no_diff) for u in first}
    second = plan.next(outcomes)
    given = Counter(u.plan.cells[0] for u in first if u.plan.cells)
    short = {c for c in quota.cells if given[c] < 2}
    assert short and {u.plan.cells[0] for u in second} == short
    assert all(set(u.plan.cells) == short for u in second) and not any(u.no_diff for u in second)
    assert not {u.index for u in first} & {u.index for u in second}
    outcomes.update({u.index: gave(u, [u.plan.cells[0]]) for u in second})
    assert plan.next(outcomes) == []  # every cell full, every control made: done


def test_a_failed_control_is_planned_again_on_another_page():
    plan = waves(split_quota(per_cell=0), no_diff=2)
    first = plan.next({})
    assert len(first) == 2
    outcomes = {first[0].index: Outcome([], None, 0, {}),  # did not load
                first[1].index: Outcome([], "docs", 1, {})}
    again = plan.next(outcomes)
    assert len(again) == 1 and again[0].no_diff == 1 and again[0].index not in outcomes


def test_hard_cells_get_more_pages_and_more_tries_on_each():
    quota = split_quota()
    plan = waves(quota)
    first = plan.next({})
    hard = ("color", "hard")
    outcomes = {}
    for u in first:
        if u.plan.cells and u.plan.cells[0] == hard:  # rejected at every try
            outcomes[u.index] = Outcome([], "docs", 0, {hard: (2, 0)})
        else:
            cells = [u.plan.cells[0]] if u.plan.cells else []
            outcomes[u.index] = gave(u, cells, controls=u.no_diff)
    second = plan.next(outcomes)
    dealt = Counter(u.plan.cells[0] for u in second)
    short = {c: 2 - sum(outcomes[u.index].cells == [c] for u in first) for c in quota.cells}
    assert dealt[hard] == short[hard] + 1  # it failed on every page: one more than it needs
    assert all(dealt[c] <= short[c] + 1 for c in quota.cells if c != hard)
    assert plan.need_now.success[hard] < plan.need_now.success[("color", "easy")]
    hard_plans = [u.plan for u in second if u.plan.cells[0] == hard]
    assert all(p.first_tries > p.tries_per_cell for p in hard_plans)


def run_waves(plan: Waves, outcome: Callable[[PageUnit], Outcome], rounds: int = 10) -> None:
    """Deal waves until the plan stops, each unit finishing with `outcome(unit)`."""
    outcomes: dict[int, Outcome] = {}
    for _ in range(rounds):
        wave = plan.next(outcomes)
        if not wave:
            return
        outcomes.update({u.index: outcome(u) for u in wave})


def test_a_cell_no_page_gives_is_given_up():
    quota = split_quota(per_cell=1)
    plan = waves(quota, n_pages=200, no_diff=0)
    hard = ("text", "hard")
    run_waves(plan, lambda u: Outcome([c for c in u.plan.cells if c != hard][:1], "docs", 0,
                                      {hard: (2, 0)}))
    assert hard in plan.need_now.exhausted
    assert sum(u.plan.cells[0] == hard for u in plan.units) >= GIVE_UP_AFTER
    assert plan.pages_left > 0  # the pages no cell needs are never loaded


def test_pages_without_an_element_for_a_cell_say_less_than_pages_that_tried_it():
    """Most pages have no element a rare cell applies to (a bordered box): six of them do not
    give the cell up, as six pages that tried it would."""
    quota = split_quota(per_cell=1)
    plan = waves(quota, n_pages=400, no_diff=0)
    rare = ("text", "hard")
    run_waves(plan, lambda u: Outcome([c for c in u.plan.cells if c != rare][:1], "docs", 0,
                                      {}), rounds=30)
    dealt = sum(u.plan.cells[0] == rare for u in plan.units)
    assert rare in plan.need_now.exhausted and "0 tried it" in plan.need_now.exhausted[rare]
    assert GIVE_UP_AFTER < GIVE_UP_DEALT <= dealt


def test_categories_at_the_cap_are_closed_and_their_known_pages_passed_over():
    quota = split_quota(per_cell=5, share=0.1)  # 30 pairs: 3 a category
    listed = [Page(url=f"http://127.0.0.1/{i}", domain="news" if i % 2 else None)
              for i in range(60)]
    plan = Waves(listed, quota, 0, 0, 12, 80, 2)
    first = plan.next({})
    outcomes = {u.index: gave(u, [u.plan.cells[0]], category=u.page.domain or "docs")
                for u in first}
    second = plan.next(outcomes)
    assert plan.need_now.closed == {"docs", "news"}
    assert all(u.page.domain != "news" for u in second)  # known to be closed: not loaded
    assert all(u.plan.closed == {"docs", "news"} for u in second)


def test_pairs_mode_runs_every_page_at_once_with_the_controls_spread():
    plan = waves(Quota.total_pairs(30, max_per_page=4), n_pages=10, no_diff=3)
    first = plan.next({})
    assert len(first) == 10 and sum(u.no_diff for u in first) == 3
    assert all(u.plan.cells == ((ANY, ANY),) and u.plan.pairs == 12 for u in first)
    assert plan.next({u.index: Outcome([], "docs", 0, {}) for u in first}) == []


def test_a_page_listed_twice_runs_once():
    twice = pages(5) + pages(5)
    plan = Waves(twice, Quota.total_pairs(10, 2), 0, 0, 2, 80, 2)
    assert len(plan.next({})) == 5


def test_a_cell_whose_pages_spend_its_try_budget_is_given_up_before_six_pages():
    quota = split_quota(per_cell=1)
    plan = waves(quota, n_pages=200, no_diff=0)
    hard = ("opacity", "hard")

    def outcome(u: PageUnit) -> Outcome:
        if u.plan.cells[0] == hard:  # twelve tries, every one rejected
            return Outcome([], "docs", 0, {hard: (12, 0)})
        cell = [c for c in u.plan.cells if c != hard][0]
        return Outcome([cell], "docs", 0, {cell: (1, 1)})

    run_waves(plan, outcome)
    dealt = sum(u.plan.cells[0] == hard for u in plan.units)
    assert "pages dealt it tried" in plan.need_now.exhausted[hard]
    assert 12 * dealt >= TRIES_PER_PAIR * quota.cells[hard] and dealt < GIVE_UP_AFTER
