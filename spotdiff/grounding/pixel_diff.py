"""Changed pixels of a before/after pair: the diff mask, and the changed fractions of the frame
relative to the boxes of the mutated elements."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from spotdiff.records import Box, grow_box


def diff_mask(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """True where any channel differs."""
    if before.shape != after.shape:
        raise ValueError(f"image shapes differ: {before.shape} vs {after.shape}")
    mask = np.zeros(before.shape[:2], bool)
    band = _changed_band(before, after)
    if band is None:
        return mask
    differs = before[band] != after[band]
    # OR-ing the channel planes is ~5x faster than np.any(axis=2) on a 1280×800 frame
    changed = differs[..., 0].copy()
    for channel in range(1, differs.shape[2]):
        changed |= differs[..., channel]
    mask[band] = changed
    return mask


def _changed_band(before: np.ndarray, after: np.ndarray) -> tuple[slice, slice] | None:
    """The rows and columns that hold every differing byte, found comparing the frames 8 bytes
    at a time (a pair changes a small part of its frame: 0.2 ms instead of 4.8 for a 1280×800
    frame), so the pixel by pixel comparison is made there only; None: the frames are equal
    (frames of other widths are compared whole)."""
    height, width, channels = before.shape
    if (width * channels) % 8:  # rows that are not whole words: every pixel is compared
        return slice(0, height), slice(0, width)
    words = [np.ascontiguousarray(image).reshape(height, -1).view(np.uint64)
             for image in (before, after)]
    differs = words[0] != words[1]
    rows = np.flatnonzero(differs.any(axis=1))
    if not rows.size:
        return None
    columns = np.flatnonzero(differs[rows[0]:rows[-1] + 1].any(axis=0))
    first, last = columns[0] * 8, columns[-1] * 8 + 8  # the bytes of the differing words
    return slice(rows[0], rows[-1] + 1), slice(first // channels, -(-last // channels))


def _slices(box: Box, width: int, height: int) -> tuple[slice, slice]:
    x, y, w, h = box
    return slice(max(0, y), min(height, y + h)), slice(max(0, x), min(width, x + w))


def region(shape: tuple[int, int], boxes: Sequence[Box], grow: int = 0) -> np.ndarray:
    """Mask of the union of the boxes, each grown by `grow` px, clipped to the frame."""
    inside = np.zeros(shape, bool)
    for box in boxes:
        inside[_slices(grow_box(box, grow), shape[1], shape[0])] = True
    return inside


def pair_metrics(mask: np.ndarray, boxes: Sequence[Box], margin: int) -> dict[str, float]:
    """pixel_diff: changed fraction of the frame; target_diff: of the target boxes' union;
    outside_diff: of the frame outside the boxes grown by `margin` (reflow contamination);
    min_target_diff: of the least-changed single box (every target must show its change); the
    gate's `Measures` fields of the same names."""
    changed = int(np.count_nonzero(mask))
    metrics = {"pixel_diff": changed / mask.size, "target_diff": 0.0, "outside_diff": 0.0,
               "min_target_diff": 0.0}
    if not boxes:
        metrics["outside_diff"] = metrics["pixel_diff"]
        return metrics
    # counted, not gathered with boolean indexing: a frame's mask indexed by another is ~10x
    # slower than counting their intersection
    inside = region(mask.shape, boxes)
    if area := np.count_nonzero(inside):
        metrics["target_diff"] = np.count_nonzero(mask & inside) / area
    near = region(mask.shape, boxes, margin)
    if outside := mask.size - np.count_nonzero(near):
        metrics["outside_diff"] = (changed - np.count_nonzero(mask & near)) / outside
    per_box = [mask[_slices(b, mask.shape[1], mask.shape[0])] for b in boxes]
    metrics["min_target_diff"] = min(np.count_nonzero(p) / p.size if p.size else 0.0
                                     for p in per_box)
    return metrics
