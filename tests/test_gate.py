import numpy as np
import pytest

from spotdiff.config import GateConfig
from spotdiff.grounding.gate import Measures, Placed, verdict, wants_clip_distance
from spotdiff.grounding.pixel_diff import diff_mask, pair_metrics
from spotdiff.records import union_box

H, W = 80, 100
BOX = (10, 20, 30, 10)  # x, y, w, h


def frames():
    before = np.full((H, W, 3), 255, np.uint8)
    return before, before.copy()


def test_no_change_measures_zero_and_is_no_effect():
    before, after = frames()
    m = pair_metrics(diff_mask(before, after), [BOX], margin=2)
    assert m == {"pixel_diff": 0.0, "target_diff": 0.0, "outside_diff": 0.0,
                 "min_target_diff": 0.0}
    assert verdict(Measures(**m), GateConfig()) == "no_effect"


def test_change_inside_the_box_only():
    before, after = frames()
    after[20:30, 10:25] = 0  # half of the box
    m = pair_metrics(diff_mask(before, after), [BOX], margin=2)
    assert m["pixel_diff"] == pytest.approx(150 / (H * W))
    assert m["target_diff"] == pytest.approx(0.5)
    assert m["outside_diff"] == 0.0
    assert verdict(Measures(**m), GateConfig()) is None


def test_change_outside_the_box_is_contamination():
    before, after = frames()
    after[20:30, 10:40] = 0  # the whole box
    after[60:70, 60:90] = 0  # and 300 px elsewhere
    m = pair_metrics(diff_mask(before, after), [BOX], margin=2)
    grown = (30 + 4) * (10 + 4)
    assert m["target_diff"] == 1.0
    assert m["outside_diff"] == pytest.approx(300 / (H * W - grown))
    assert verdict(Measures(**m), GateConfig()) == "contaminated"


def test_margin_absorbs_antialiasing_next_to_the_box():
    before, after = frames()
    after[20:30, 10:40] = 0
    after[19, 10:40] = 128  # one row just above the box
    m = pair_metrics(diff_mask(before, after), [BOX], margin=2)
    assert m["outside_diff"] == 0.0


def test_single_channel_change_counts():
    before, after = frames()
    after[25, 15, 2] = 254
    assert diff_mask(before, after).sum() == 1


@pytest.mark.parametrize("width", [1280, 1283])  # rows of whole 8-byte words, and not
def test_the_mask_is_every_pixel_with_a_changed_channel(width):
    rng = np.random.default_rng(width)
    before = rng.integers(0, 256, (64, width, 3), np.uint8)
    assert not diff_mask(before, before.copy()).any()
    flat = before.reshape(-1)
    changes = [[k] for k in range(1000, 1048)]  # a byte at each place in 8-byte words and pixels
    changes += [[0], [flat.size - 1], list(rng.integers(0, flat.size, 6))]
    for where in changes:
        after = before.copy()
        after.reshape(-1)[where] ^= 0x5A
        np.testing.assert_array_equal(diff_mask(before, after), (before != after).any(axis=2))


def test_union_box_covers_both():
    assert union_box([(10, 10, 5, 5), (12, 8, 10, 3)]) == (10, 8, 12, 7)
    assert union_box([(1, 2, 3, 4)]) == (1, 2, 3, 4)


def test_every_target_of_a_multi_mutation_pair_must_change():
    before, after = frames()
    other = (60, 50, 20, 20)
    after[20:30, 10:40] = 0  # the first box changes, the second does not
    m = pair_metrics(diff_mask(before, after), [BOX, other], margin=2)
    assert m["target_diff"] == pytest.approx(300 / (300 + 400))
    assert m["min_target_diff"] == 0.0
    assert verdict(Measures(**m), GateConfig()) == "no_effect"
    after[55, 65] = 0
    m = pair_metrics(diff_mask(before, after), [BOX, other], margin=2)
    assert m["outside_diff"] == 0.0 and verdict(Measures(**m), GateConfig()) is None


def test_change_area_bounds_drop_too_small_and_too_large_changes():
    before, after = frames()
    after[20:30, 10:40] = 0  # the whole box: 300 of 8,000 px
    m = pair_metrics(diff_mask(before, after), [BOX], margin=2)
    assert verdict(Measures(**m), GateConfig(change_area=(0.01, 0.05))) is None
    assert verdict(Measures(**m), GateConfig(change_area=(0.05, 1.0))) == "change_area"
    assert verdict(Measures(**m), GateConfig(change_area=(0.0, 0.01))) == "change_area"


def test_the_first_failing_measure_names_the_reason():
    """Placement comes before pixels: a mutation the page did not take is rejected on that, and
    a measure the try never got to (None) is not checked."""
    cfg = GateConfig(clip_distance=(0.01, 0.5))
    changed = {"pixel_diff": 0.01, "target_diff": 0.5, "outside_diff": 0.0,
               "min_target_diff": 0.5}
    assert verdict(Measures(**changed, clip_distance=0.1), cfg) is None
    assert verdict(Measures((Placed("style", failed=True),), **changed), cfg) == "apply_failed"
    swapped = (Placed("style", resolves=False), Placed("class_swap", shows_value=False))
    assert verdict(Measures(swapped), cfg) == "class_swap_overridden"
    assert not Measures(swapped).as_planned
    lost = Measures((Placed("remove", resolves=False),), boxes=((0, 0, 10, 10), (5, 5, 10, 10)))
    assert lost.as_planned and verdict(lost, cfg) == "selector_lost"
    apart = ((0, 0, 10, 10), (10, 0, 10, 10))  # touching edges do not overlap
    assert verdict(Measures(boxes=apart, **changed), cfg) is None
    assert verdict(Measures(boxes=((0, 0, 10, 10), (9, 9, 5, 5))), cfg) == "targets_overlap"
    assert verdict(Measures(**changed, clip_distance=0.9), cfg) == "clip_distance"


def test_the_embedding_distance_is_wanted_only_when_bounded_and_all_else_passes():
    changed = {"pixel_diff": 0.01, "target_diff": 0.5, "outside_diff": 0.0,
               "min_target_diff": 0.5}
    bounded = GateConfig(clip_distance=(0.01, 0.5))
    assert wants_clip_distance(Measures(**changed), bounded)
    assert not wants_clip_distance(Measures(**changed), GateConfig())
    assert not wants_clip_distance(Measures(**{**changed, "outside_diff": 0.5}), bounded)
