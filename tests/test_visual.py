import numpy as np
import pytest

from spotdiff.grounding.pixel_diff import diff_mask
from spotdiff.grounding.regions import change_regions
from spotdiff.grounding.ssim import ssim
from spotdiff.records import union_box

H, W = 120, 160


def textured() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (H, W, 3), dtype=np.uint8)


def test_identical_frames_have_ssim_one_and_no_regions():
    before = textured()
    after = before.copy()
    assert ssim(before, after) == pytest.approx(1.0)
    assert ssim(before, after, (10, 10, 30, 20)) == pytest.approx(1.0)
    assert change_regions(diff_mask(before, after)) == []
    assert union_box([]) is None


def test_two_rectangles_give_two_exact_boxes_largest_first_and_their_union():
    before = textured()
    after = before.copy()
    after[10:20, 30:50] = 0  # 20x10 at (30, 10)
    after[60:90, 100:140] = 255  # 40x30 at (100, 60), the larger
    boxes = change_regions(diff_mask(before, after))
    assert boxes == [(100, 60, 40, 30), (30, 10, 20, 10)]
    assert union_box(boxes) == (30, 10, 110, 80)


def test_ssim_drops_where_the_change_is_and_not_elsewhere():
    before = textured()
    after = before.copy()
    after[60:90, 100:140] = 255
    assert ssim(before, after) < 0.95
    assert ssim(before, after, (100, 60, 40, 30)) < 0.05
    assert ssim(before, after, (0, 0, 50, 50)) == pytest.approx(1.0)


def test_ssim_box_is_clipped_and_tiny_boxes_still_measure():
    before = textured()
    after = before.copy()
    after[50, 50] = 255 - after[50, 50]  # one pixel
    assert ssim(before, after, (150, 110, 40, 40)) == pytest.approx(1.0)  # clipped to 10x10
    assert ssim(before, after, (50, 50, 1, 1)) < 1.0  # grown to the 7x7 window around it
    assert ssim(before, after, (0, 0, 2, 2)) == pytest.approx(1.0)  # grown at the corner
    with pytest.raises(ValueError, match="outside"):
        ssim(before, after, (W, 0, 5, 5))


def test_min_area_drops_specks_and_merge_gap_joins_glyph_fragments():
    mask = np.zeros((H, W), bool)
    mask[5:8, 5:9] = True  # two "glyphs" 2 px apart (columns 9 and 10 unchanged)
    mask[5:8, 11:14] = True
    mask[100, 100] = True  # a 1-pixel speck
    assert change_regions(mask) == [(5, 5, 4, 3), (11, 5, 3, 3)]
    assert change_regions(mask, min_area=1)[-1] == (100, 100, 1, 1)
    assert change_regions(mask, merge_gap=1) == [(5, 5, 4, 3), (11, 5, 3, 3)]
    # the merged box bounds the changed pixels, not the dilation around them
    assert change_regions(mask, merge_gap=2) == [(5, 5, 9, 3)]


def test_diagonal_pixels_are_one_region():
    mask = np.zeros((H, W), bool)
    mask[np.arange(10, 20), np.arange(30, 40)] = True
    assert change_regions(mask) == [(30, 10, 10, 10)]


def test_frame_ssim_from_the_changed_area_equals_the_full_computation():
    from spotdiff.grounding.ssim import frame_ssim

    rng = np.random.default_rng(0)
    before = rng.integers(0, 255, (120, 200, 3), dtype=np.uint8)
    after = before.copy()
    after[40:60, 70:110] = 255 - after[40:60, 70:110]
    area = union_box(change_regions(diff_mask(before, after)))
    assert frame_ssim(before, after, area) == pytest.approx(ssim(before, after), abs=1e-9)
    assert frame_ssim(before, before, None) == 1.0
