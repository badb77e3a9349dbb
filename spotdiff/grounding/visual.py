"""Structural measures of a before/after pair: SSIM and the boxes of the changed regions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from skimage.color import rgb2gray
from skimage.measure import label, regionprops
from skimage.metrics import structural_similarity
from skimage.morphology import dilation, footprint_rectangle

from spotdiff.grounding import metrics
from spotdiff.records import Box

SSIM_WINDOW = 7  # scikit-image's default window side


def ssim(before: np.ndarray, after: np.ndarray, box: Box | None = None,
         changed: np.ndarray | None = None) -> float:
    """SSIM of the grayscale HxWx3 frames, or of their crops to `box` clipped to the frame.
    A box thinner than the SSIM window is grown around its centre to the window's side, so a
    hairline element is compared with the few pixels around it instead of failing. With
    `changed` (the frames' diff mask) it is computed on the changed pixels only, as
    `frame_ssim` is: the same value, without the identical rest."""
    if before.shape != after.shape:
        raise ValueError(f"image shapes differ: {before.shape} vs {after.shape}")
    if box is not None:
        rows, cols = _window(box, before.shape[1], before.shape[0])
        before, after = before[rows, cols], after[rows, cols]
        changed = None if changed is None else changed[rows, cols]
    if changed is not None and min(before.shape[:2]) >= SSIM_WINDOW:
        return frame_ssim(before, after, _bounds(changed))
    side = min(before.shape[:2])
    if side < 3:
        raise ValueError(f"SSIM needs at least 3x3 pixels, got {before.shape[:2]}")
    win_size = min(SSIM_WINDOW, side if side % 2 else side - 1)
    return float(structural_similarity(rgb2gray(before), rgb2gray(after), win_size=win_size,
                                       data_range=1.0))


def frame_ssim(before: np.ndarray, after: np.ndarray, area: Box | None) -> float:
    """Whole-frame SSIM computed on the changed area only: outside it the frames are identical
    and every SSIM window there is exactly 1, so the frame's mean follows from the crop's."""
    if area is None:
        return 1.0
    height, width = before.shape[:2]
    x0, y0 = max(0, area[0] - 2 * SSIM_WINDOW), max(0, area[1] - 2 * SSIM_WINDOW)
    x1 = min(width, area[0] + area[2] + 2 * SSIM_WINDOW)
    y1 = min(height, area[1] + area[3] + 2 * SSIM_WINDOW)
    crop = ssim(before, after, (x0, y0, x1 - x0, y1 - y0))
    pad = (SSIM_WINDOW - 1) // 2  # scikit-image leaves this border out of the mean
    crop_area = max(1, (x1 - x0 - 2 * pad) * (y1 - y0 - 2 * pad))
    frame_area = (width - 2 * pad) * (height - 2 * pad)
    return 1.0 - (1.0 - crop) * crop_area / frame_area


def _window(box: Box, width: int, height: int) -> tuple[slice, slice]:
    x, y, w, h = box
    x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + w), min(height, y + h)
    if x0 >= x1 or y0 >= y1:
        raise ValueError(f"box {box} lies outside the {width}x{height} frame")
    return _span(y0, y1, height), _span(x0, x1, width)


def _span(start: int, stop: int, limit: int) -> slice:
    """[start, stop) grown around its centre to at least SSIM_WINDOW, kept inside [0, limit)."""
    missing = SSIM_WINDOW - (stop - start)
    if missing <= 0:
        return slice(start, stop)
    start = max(0, min(start - missing // 2, limit - SSIM_WINDOW))
    return slice(start, min(limit, start + SSIM_WINDOW))


def _bounds(mask: np.ndarray) -> Box | None:
    """The box of a mask's True pixels; None when there are none."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not rows.size:
        return None
    return (int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1))


def change_regions(mask: np.ndarray, min_area: int = 4, merge_gap: int = 0) -> list[Box]:
    """(x, y, w, h) boxes of the 8-connected components of a changed-pixel mask, most changed
    pixels first. Components at most `merge_gap` px apart (e.g. the glyphs of one word) are
    merged; a box bounds only changed pixels, and one with fewer than `min_area` is dropped."""
    bounds = _bounds(mask)
    if bounds is None:
        return []
    # measured on the changed window (grown past what the dilation reaches): the same
    # components as on the whole frame, at a fraction of the cost
    reach = merge_gap + 1
    x0, y0 = max(0, bounds[0] - reach), max(0, bounds[1] - reach)
    window = mask[y0:bounds[1] + bounds[3] + reach, x0:bounds[0] + bounds[2] + reach]
    return [(x + x0, y + y0, w, h) for x, y, w, h in _components(window, min_area, merge_gap)]


def _components(mask: np.ndarray, min_area: int, merge_gap: int) -> list[Box]:
    grown = mask
    if merge_gap > 0:
        # a (gap+1)-wide square dilation bridges exactly the gaps of at most `gap` px
        grown = dilation(mask, footprint_rectangle((merge_gap + 1, merge_gap + 1)))
    labels = label(grown, connectivity=2) * mask
    regions = [r for r in regionprops(labels) if r.area >= min_area]
    regions.sort(key=lambda r: (-r.area, r.bbox[0], r.bbox[1]))
    return [(int(c0), int(r0), int(c1 - c0), int(r1 - r0))
            for r0, c0, r1, c1 in (r.bbox for r in regions)]


def union_box(boxes: Sequence[Box]) -> Box | None:
    """The smallest box holding all of them (Img-Diff's difference area); None for no boxes."""
    union = None
    for box in boxes:
        union = metrics.union_box(box, union)
    return union
