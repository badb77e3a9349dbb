"""How visible a change is to a person, measured from the before/after frames.

Two measures, computed on the changed pixels of one target box only (cheap, and a change
elsewhere is the gate's business):

- `visible_px`: pixels whose colour moved by at least `delta_e` CIEDE2000 once both frames are
  blurred a little, as the eye blurs them (S-CIELAB in spirit): a ΔE 7 change of thin dark text
  mixes with its background and stays under the bound, the same change on a banner does not.
- `edge_shift`: how far the painted content moved, in px. When one translation (found by phase
  correlation) explains most of the change, its length; otherwise the 90th percentile distance
  from the edges of one frame to the nearest edge of the other, either way, over the changed
  area (dense text finds a neighbour's edge near any glyph, so a rigid move is measured as a
  move). A colour change leaves every edge in place (0); something appearing where nothing was
  painted measures up to `MAX_SHIFT`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.color import deltaE_ciede2000, rgb2lab
from skimage.feature import canny
from skimage.registration import phase_cross_correlation

from spotdiff.records import Box

MEASURES = ("visible_px", "edge_shift")
MAX_SHIFT = 64.0  # px: an edge with no counterpart this near counts as this far
_MAX_CROP = 60_000  # px of a crop measured at full resolution; larger ones are subsampled
_BLUR_SIGMA = 0.5  # px, of the blur before the colour difference
_EDGE_GRADIENT = 20.0  # Sobel magnitude of L* (4× a sharp step): a step of 5 L* is an edge


@dataclass(frozen=True)
class Visibility:
    visible_px: float
    edge_shift: float

    def get(self, measure: str) -> float:
        return float(getattr(self, measure))


def _crop(mask: np.ndarray, box: Box, pad: int) -> tuple[slice, slice] | None:
    """The changed pixels' bounding rectangle inside `box`, grown by `pad`."""
    h, w = mask.shape
    x, y, bw, bh = box
    ys, xs = slice(max(0, y), min(h, y + bh)), slice(max(0, x), min(w, x + bw))
    inside = mask[ys, xs]
    rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
    if not rows.size:
        return None
    y0, y1 = ys.start + rows[0], ys.start + rows[-1] + 1
    x0, x1 = xs.start + cols[0], xs.start + cols[-1] + 1
    return (slice(max(0, y0 - pad), min(h, y1 + pad)), slice(max(0, x0 - pad), min(w, x1 + pad)))


def _lab(pixels: np.ndarray) -> np.ndarray:
    """CIELAB of an RGB crop, converting each distinct colour once (pages paint few)."""
    packed = (pixels[..., 0].astype(np.int32) << 16) | (pixels[..., 1].astype(np.int32) << 8) \
        | pixels[..., 2]
    colors, index = np.unique(packed.ravel(), return_inverse=True)
    rgb = np.stack([colors >> 16, (colors >> 8) & 255, colors & 255], axis=-1).astype(np.uint8)
    return rgb2lab(rgb[None])[0][index].reshape(pixels.shape)


def _edges(lightness: np.ndarray) -> np.ndarray:
    """Thin edges (Canny on the already blurred lightness), placed where the step is whatever
    its contrast, so a colour change alone moves none."""
    return canny(lightness, sigma=0, low_threshold=_EDGE_GRADIENT / 2, mode="nearest",
                 high_threshold=_EDGE_GRADIENT)


def _shift(edges_from: np.ndarray, edges_to: np.ndarray, where: np.ndarray) -> float:
    """90th percentile distance from `edges_from` (inside `where`) to the nearest `edges_to`."""
    points = edges_from & where
    if not points.any():
        return 0.0
    if not edges_to.any():
        return MAX_SHIFT
    distance = ndimage.distance_transform_edt(~edges_to)
    return float(min(MAX_SHIFT, np.percentile(distance[points], 90)))


def _translation(lightness_a: np.ndarray, lightness_b: np.ndarray, where: np.ndarray) -> float:
    """Length of the one translation that explains most of the change, else 0."""
    if min(lightness_a.shape) < 4:
        return 0.0
    shift = phase_cross_correlation(lightness_a, lightness_b, normalization=None)[0]
    dy, dx = (int(round(v)) for v in shift)
    if dy == dx == 0:
        return 0.0
    moved = ndimage.shift(lightness_a, (-dy, -dx), order=0, mode="nearest")
    unexplained = np.abs(moved - lightness_b)[where].mean()
    if unexplained > 0.5 * np.abs(lightness_a - lightness_b)[where].mean():
        return 0.0
    return float(np.hypot(dx, dy))


def measure(before: np.ndarray, after: np.ndarray, mask: np.ndarray, box: Box,
            delta_e: float, measures: Sequence[str] = MEASURES) -> Visibility:
    """Visibility of the change inside `box` (frames H×W×3 uint8, `mask` their diff); measures
    not asked for are nan."""
    pad = math.ceil(3 * _BLUR_SIGMA)
    crop = _crop(mask, box, pad)
    if crop is None:
        return Visibility(0.0, 0.0)
    a, b, changed = before[crop], after[crop], mask[crop]
    stride = max(1, math.ceil(math.sqrt(changed.size / _MAX_CROP)))
    if stride > 1:  # a large change: measured on every stride-th pixel, counts scaled back
        a, b = a[::stride, ::stride], b[::stride, ::stride]
        changed = ndimage.maximum_filter(changed, size=stride)[::stride, ::stride]
    sigma = (_BLUR_SIGMA / stride, _BLUR_SIGMA / stride, 0)
    lab_a = ndimage.gaussian_filter(_lab(a), sigma)
    lab_b = ndimage.gaussian_filter(_lab(b), sigma)
    near = ndimage.binary_dilation(changed, iterations=max(1, pad // stride))
    visible = shift = float("nan")
    if "visible_px" in measures:
        difference = deltaE_ciede2000(lab_a[near], lab_b[near])
        visible = float(np.count_nonzero(difference >= delta_e)) * stride * stride
    if "edge_shift" in measures:
        edges_a, edges_b = _edges(lab_a[..., 0]), _edges(lab_b[..., 0])
        nearest = max(_shift(edges_b, edges_a, near), _shift(edges_a, edges_b, near))
        if stride > 1:  # on a sub-sampled grid a step that stayed put can land one sample over
            nearest = max(0.0, nearest - 1)
        shift = max(_translation(lab_a[..., 0], lab_b[..., 0], near), nearest) * stride
        shift = round(min(MAX_SHIFT, shift), 2)
    return Visibility(visible, shift)
