"""Where a before/after pair changed: the boxes of the connected regions of changed pixels."""

from __future__ import annotations

import numpy as np
from skimage.measure import label, regionprops
from skimage.morphology import dilation, footprint_rectangle

from spotdiff.records import Box


def change_regions(mask: np.ndarray, min_area: int = 4, merge_gap: int = 0) -> list[Box]:
    """(x, y, w, h) boxes of the 8-connected components of a changed-pixel mask, most changed
    pixels first. Components at most `merge_gap` px apart (e.g. the glyphs of one word) are
    merged; a box bounds only changed pixels, and one with fewer than `min_area` is dropped."""
    grown = mask
    if merge_gap > 0:
        # a (gap+1)-wide square dilation bridges exactly the gaps of at most `gap` px
        grown = dilation(mask, footprint_rectangle((merge_gap + 1, merge_gap + 1)))
    labels = label(grown, connectivity=2) * mask
    regions = [r for r in regionprops(labels) if r.area >= min_area]
    regions.sort(key=lambda r: (-r.area, r.bbox[0], r.bbox[1]))
    return [(int(c0), int(r0), int(c1 - c0), int(r1 - r0))
            for r0, c0, r1, c1 in (r.bbox for r in regions)]
