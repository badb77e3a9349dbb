"""The image files of one pair: the original PNGs for the full-size viewer, a diff mask to lay
over them, and WebP thumbnails (before, after, heat map) for the gallery grid."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops

THUMB_WIDTH = 320
MASK_PALETTE = [0, 0, 0, 235, 20, 60]  # index 0 transparent, 1 red


def _grow(mask: np.ndarray) -> np.ndarray:
    """3×3 dilation: a single changed pixel stays visible once drawn."""
    rows = mask.copy()
    rows[1:] |= mask[:-1]
    rows[:-1] |= mask[1:]
    out = rows.copy()
    out[:, 1:] |= rows[:, :-1]
    out[:, :-1] |= rows[:, 1:]
    return out


def _blocks(mask: np.ndarray, k: int) -> np.ndarray:
    """Any-changed per k×k block, the shape `Image.reduce(k)` gives (sizes rounded up)."""
    h, w = mask.shape
    padded = np.zeros((-(-h // k) * k, -(-w // k) * k), bool)
    padded[:h, :w] = mask
    return padded.reshape(padded.shape[0] // k, k, padded.shape[1] // k, k).any(axis=(1, 3))


def _heat(thumb: Image.Image, changed: np.ndarray) -> Image.Image:
    """Changed blocks in red over a light grey copy of the before thumbnail."""
    grey = np.asarray(thumb.convert("L"), np.float32) * 0.4 + 140
    out = np.repeat(grey.astype(np.uint8)[:, :, None], 3, axis=2)
    out[changed] = MASK_PALETTE[3:]
    return Image.fromarray(out)


def _mask(changed: np.ndarray) -> Image.Image:
    image = Image.fromarray(changed.astype(np.uint8), "P")
    image.putpalette(MASK_PALETTE)
    return image


def _open(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    return image if image.mode == "RGB" else image.convert("RGB")


def _changed(before: Image.Image, after: Image.Image) -> np.ndarray:
    """Pixels that differ in any channel (Pillow's C loops: ~5x faster than numpy here)."""
    red, green, blue = ImageChops.difference(before, after).split()
    return np.asarray(ImageChops.lighter(ImageChops.lighter(red, green), blue)) > 0


def write_pair(job: tuple[Path, str, bytes, bytes]) -> tuple[int, int]:
    """Write `<stem>-{before,after,diff}.png` and `<stem>-{before,after,heat}.webp` into the
    directory; returns the image size (width, height)."""
    img_dir, stem, before_png, after_png = job
    (img_dir / f"{stem}-before.png").write_bytes(before_png)
    (img_dir / f"{stem}-after.png").write_bytes(after_png)
    before, after = _open(before_png), _open(after_png)
    changed = _changed(before, after)
    _mask(_grow(changed)).save(img_dir / f"{stem}-diff.png", transparency=0)
    k = max(1, round(before.width / THUMB_WIDTH))
    thumbs = {"before": before.reduce(k), "after": after.reduce(k)}
    thumbs["heat"] = _heat(thumbs["before"], _grow(_blocks(changed, k)))
    for name, thumb in thumbs.items():
        thumb.save(img_dir / f"{stem}-{name}.webp", quality=82, method=1)
    return before.size
