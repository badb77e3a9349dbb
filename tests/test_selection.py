"""Quota selection: which accepted pairs make the split (pure; no browser)."""

from spotdiff.generator.run import RunRequest
from spotdiff.generator.selection import ANY, Quota, SplitConfig, fill_table, select


def test_total_pairs_are_taken_round_robin_across_pages():
    rows = [[("a", "easy")] * 3, [("b", "hard")] * 1, [("c", "medium")] * 3]
    chosen = select(rows, ["x", "y", "z"], Quota.total_pairs(5, max_per_page=3))
    assert chosen == [[0, 1], [0], [0, 1]]


def test_cells_fill_with_one_pair_per_page_and_the_neediest_cell_first():
    quota = Quota({("color", "easy"): 2, ("color", "hard"): 1, ("text", "easy"): 1}, 1)
    rows = [
        [("color", "easy"), ("text", "easy")],
        [("color", "easy"), ("color", "hard")],
        [("color", "hard")],
        [("color", "easy")],
        [("text", "easy")],
    ]
    chosen = select(rows, list("abcde"), quota)
    assert chosen == [[0], [0], [0], [], [0]]
    fill = fill_table(rows, chosen, quota)
    assert fill["color"]["easy"] == [2, 2, 3]
    assert fill["text"]["easy"] == [1, 1, 2]


def test_no_domain_takes_more_than_its_share():
    quota = Quota({(ANY, ANY): 10}, max_per_page=1, max_domain_share=0.2)
    rows = [[("a", "easy")]] * 10
    chosen = select(rows, ["big"] * 8 + ["s1", "s2"], quota)
    picked_domains = [d for d, c in zip(["big"] * 8 + ["s1", "s2"], chosen, strict=True) if c]
    assert picked_domains.count("big") == 2 and len(picked_domains) == 4


def test_split_quota_table_covers_operator_by_tier():
    split = SplitConfig(quota_per_cell=5, operators=["color", "text"],
                        cells={"text": {"hard": 1}})
    quota = Quota.from_split(split, ["color", "text", "opacity"])
    assert quota.cells[("color", "medium")] == 5 and quota.cells[("text", "hard")] == 1
    assert ("opacity", "easy") not in quota.cells and quota.total == 26


def test_pairs_request_spreads_with_slack(cfg):
    from spotdiff.records import Page

    pages = [Page(url=f"http://127.0.0.1/{i}") for i in range(10)]
    req = RunRequest.for_pairs(pages, cfg.config_dir, 40, 2, cfg)
    assert req.unit_quota == 5 and req.quota.total == 40


def test_pages_try_only_the_operators_and_tiers_a_quota_wants():
    split = SplitConfig(quota_per_cell=3, operators=["color", "text"], tiers=["easy", "hard"],
                        cells={"text": {"easy": 0, "hard": 0}})
    quota = Quota.from_split(split, ["color", "opacity", "text"])
    assert quota.operators(["color", "opacity", "text"]) == ["color"]
    assert quota.tiers() == ("easy", "hard")
    anything = Quota.total_pairs(10, max_per_page=2)
    assert anything.operators(["color", "text"]) == ["color", "text"]
    assert anything.tiers() == ("easy", "medium", "hard")


def test_settled_rows_are_selected_whatever_the_other_units_give():
    import random

    from spotdiff.generator.selection import settled

    rng = random.Random(0)
    for _ in range(300):
        units, per_page = rng.randint(1, 8), rng.randint(1, 5)
        quota = Quota.total_pairs(rng.randint(1, 30), per_page)
        mine, position = rng.randint(0, 6), rng.randrange(units)
        keep = settled(quota, units, position, mine)
        for _ in range(5):  # the other units give any number of rows
            rows = [[("a", "easy")] * rng.randint(0, 6) for _ in range(units)]
            rows[position] = [("a", "easy")] * mine
            chosen = select(rows, ["d"] * units, quota)
            assert set(range(keep)) <= set(chosen[position])
    assert settled(Quota({("color", "easy"): 3}, 1), 4, 0, 1) == 0  # cells: not settled early
