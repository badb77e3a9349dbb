"""Pixel measures of a before/after pair relative to the mutated element's box."""

from __future__ import annotations

import numpy as np

from spotdiff.records import Box


def diff_mask(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """True where any channel differs."""
    if before.shape != after.shape:
        raise ValueError(f"image shapes differ: {before.shape} vs {after.shape}")
    differs = before != after
    # OR-ing the channel planes is ~5x faster than np.any(axis=2) on a 1280×800 frame
    mask = differs[..., 0].copy()
    for channel in range(1, differs.shape[2]):
        mask |= differs[..., channel]
    return mask


def union_box(a: Box, b: Box | None) -> Box:
    if b is None:
        return a
    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
    x1, y1 = max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3])
    return (x0, y0, x1 - x0, y1 - y0)


def clip_box(box: Box, width: int, height: int, grow: int = 0) -> tuple[int, int, int, int]:
    """The box grown by `grow` px and clipped to the image, as (x0, y0, x1, y1) slice bounds."""
    x, y, w, h = box
    return (max(0, x - grow), max(0, y - grow), min(width, x + w + grow), min(height, y + h + grow))


def pair_metrics(mask: np.ndarray, box: Box | None, margin: int) -> dict[str, float]:
    """pixel_diff: changed fraction of the frame; target_diff: of the target box;
    outside_diff: of the frame outside the box grown by `margin` (reflow contamination)."""
    height, width = mask.shape
    changed = int(mask.sum())
    metrics = {"pixel_diff": changed / mask.size, "target_diff": 0.0, "outside_diff": 0.0}
    if box is None:
        metrics["outside_diff"] = metrics["pixel_diff"]
        return metrics
    x0, y0, x1, y1 = clip_box(box, width, height)
    if x1 > x0 and y1 > y0:
        metrics["target_diff"] = float(mask[y0:y1, x0:x1].mean())
    gx0, gy0, gx1, gy1 = clip_box(box, width, height, grow=margin)
    inside = int(mask[gy0:gy1, gx0:gx1].sum())
    outside_area = mask.size - (gx1 - gx0) * (gy1 - gy0)
    metrics["outside_diff"] = (changed - inside) / outside_area if outside_area else 0.0
    return metrics
