"""Structural similarity (SSIM) of a before/after pair: of the frame, or of a box in it."""

from __future__ import annotations

import numpy as np
from skimage.color import rgb2gray
from skimage.metrics import structural_similarity

from spotdiff.records import Box

SSIM_WINDOW = 7  # scikit-image's default window side


def ssim(before: np.ndarray, after: np.ndarray, box: Box | None = None) -> float:
    """SSIM of the grayscale HxWx3 frames, or of their crops to `box` clipped to the frame.
    A box thinner than the SSIM window is grown around its centre to the window's side, so a
    hairline element is compared with the few pixels around it instead of failing."""
    if before.shape != after.shape:
        raise ValueError(f"image shapes differ: {before.shape} vs {after.shape}")
    if box is not None:
        rows, cols = _window(box, before.shape[1], before.shape[0])
        before, after = before[rows, cols], after[rows, cols]
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
