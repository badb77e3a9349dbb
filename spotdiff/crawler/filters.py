"""Which captured pages are kept: DiffSpot-style automatic filters, near-duplicate removal by
perceptual hash, and stratified sampling by domain category × complexity with a per-domain cap.
Every page not kept gets a counted reason."""

from __future__ import annotations

import math
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable

import imagehash
import numpy as np
from PIL import Image

from spotdiff.config import CrawlFilterConfig, CrawlSampleConfig
from spotdiff.crawler.manifest import PageRecord

SAMPLING_REASONS = ("domain_cap", "sampled_out")


def perceptual_hash(pixels: np.ndarray) -> str:
    """A 256-bit DCT hash: the 64-bit default puts distinct pages of one template within 4 bits
    of each other, while at 256 bits they stay 20+ apart and true look-alikes within 10."""
    return str(imagehash.phash(Image.fromarray(pixels), hash_size=16))


def blank_share(pixels: np.ndarray) -> float:
    """Share of the pixels in the image's most common colour."""
    flat = pixels.reshape(-1, pixels.shape[-1]).astype(np.uint32)
    packed = (flat[:, 0] << 16) | (flat[:, 1] << 8) | flat[:, 2]
    return float(np.unique(packed, return_counts=True)[1].max() / len(packed))


def auto_filter(record: PageRecord, cfg: CrawlFilterConfig) -> str | None:
    """The first automatic filter the page fails, or None."""
    if record.html_length < cfg.min_html_bytes:
        return "html_too_short"
    if record.blank_share >= cfg.blank_share:
        return "blank_viewport"
    if (record.iframes + record.videos + record.canvases > cfg.max_embeds
            or record.embed_area > cfg.max_embed_area):
        return "too_many_embeds"
    if record.page_height < cfg.min_page_height:
        return "page_too_short"
    return None


def drop_near_duplicates(records: Iterable[PageRecord], max_distance: int) -> list[PageRecord]:
    """Mark kept pages whose first viewport looks like an earlier kept page's (by depth, then
    URL, so the verdict does not depend on crawl timing) as near_duplicate; returns them."""
    seen: list[imagehash.ImageHash] = []
    dropped = []
    for r in sorted((r for r in records if r.kept), key=lambda r: (r.depth, r.url)):
        phash = imagehash.hex_to_hash(r.phash)
        if any(phash - other <= max_distance for other in seen):
            r.kept, r.reason = False, "near_duplicate"
            dropped.append(r)
        else:
            seen.append(phash)
    return dropped


def complexity(element_count: int, bounds: tuple[int, int]) -> str:
    if element_count < bounds[0]:
        return "simple"
    return "medium" if element_count < bounds[1] else "complex"


def sample(records: list[PageRecord], cfg: CrawlSampleConfig) -> None:
    """Among the kept records, keep `cfg.pages` spread evenly over domain × complexity strata
    (round robin, a seeded order inside each stratum), no domain above `max_domain_share` of
    the result. Records dropped here get reason `domain_cap` or `sampled_out`; sampling again
    starts from the filters' verdicts."""
    for r in records:
        r.complexity = complexity(r.element_count, cfg.complexity_bounds)
        if r.reason in SAMPLING_REASONS:
            r.kept, r.reason = True, ""
    candidates = [r for r in records if r.kept]
    wanted = min(cfg.pages or len(candidates), len(candidates))
    cap = (max(1, math.floor(cfg.max_domain_share * wanted)) if cfg.max_domain_share
           else wanted)
    strata: dict[tuple[str, str], list[PageRecord]] = defaultdict(list)
    for r in sorted(candidates, key=lambda r: zlib.crc32(r.final_url.encode())):
        strata[(r.category, r.complexity)].append(r)
    chosen: set[int] = set()
    per_domain: Counter[str] = Counter()
    queues = [strata[key] for key in sorted(strata)]
    while len(chosen) < wanted and any(queues):
        for queue in queues:
            while queue and per_domain[queue[0].category] >= cap:
                queue.pop(0).reason = "domain_cap"
            if queue and len(chosen) < wanted:
                r = queue.pop(0)
                chosen.add(id(r))
                per_domain[r.category] += 1
    for r in candidates:
        if id(r) not in chosen:
            r.kept = False
            r.reason = r.reason or "sampled_out"
