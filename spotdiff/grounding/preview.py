"""What a change would draw, computed from the page's first frame instead of drawn.

An element drawn at another opacity is its own pixels blended toward what lies behind it. Over a
plain backdrop (the ring of pixels around its box, all one colour) that blend can be computed
exactly from the first frame, and the gate's visibility measure run on it foresees a change too
faint to keep for the cost of the measure alone: no apply, no frame, no screenshot.
"""

from __future__ import annotations

import numpy as np

from spotdiff.records import Box

RING_PX = 3  # the band around the box the backdrop is read from
PLAIN_RGB = 3  # the ring's channels all lie this near its median: one colour behind the element


def backdrop(frame: np.ndarray, box: Box) -> np.ndarray | None:
    """The one colour around `box` (RGB float), or None when the ring is not plain (an image,
    a gradient or other content borders it) or the box leaves no ring inside the frame."""
    h, w = frame.shape[:2]
    x, y, bw, bh = (int(round(v)) for v in box)
    x0, y0 = max(0, x - RING_PX), max(0, y - RING_PX)
    x1, y1 = min(w, x + bw + RING_PX), min(h, y + bh + RING_PX)
    if x1 <= x0 or y1 <= y0:
        return None
    outer = frame[y0:y1, x0:x1].reshape(-1, 3)
    inside = np.zeros((y1 - y0, x1 - x0), bool)
    inside[max(0, y - y0):max(0, y + bh - y0), max(0, x - x0):max(0, x + bw - x0)] = True
    ring = outer[~inside.reshape(-1)].astype(np.int16)
    if len(ring) < 4 * RING_PX:
        return None
    median = np.median(ring, axis=0)
    if np.abs(ring - median).max() > PLAIN_RGB:
        return None
    return median.astype(np.float32)


def blend(frame: np.ndarray, box: Box, old: float, new: float) -> np.ndarray | None:
    """`frame` with the element in `box` drawn at opacity `new` instead of `old` over its plain
    backdrop; None when the backdrop is not plain or `old` is 0 (nothing drawn to scale)."""
    behind = backdrop(frame, box)
    if behind is None or old <= 0:
        return None
    h, w = frame.shape[:2]
    x, y, bw, bh = (int(round(v)) for v in box)
    ys, xs = slice(max(0, y), min(h, y + bh)), slice(max(0, x), min(w, x + bw))
    after = frame.copy()
    drawn = frame[ys, xs].astype(np.float32)
    # drawn = behind + old·(own − behind), so at `new`: behind + new/old·(drawn − behind)
    after[ys, xs] = np.clip(np.rint(behind + (new / old) * (drawn - behind)), 0, 255)
    return after
