"""Colours: parse computed CSS colours, measure CIEDE2000, move by a distance, name in words."""

from __future__ import annotations

import re
import warnings
from functools import lru_cache

import numpy as np
import webcolors
from skimage.color import deltaE_ciede2000, lab2rgb, rgb2lab

RGB = tuple[int, int, int]
_RGBA = re.compile(r"rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)(?:\s*[,/]\s*([\d.]+%?))?\s*\)")


def parse_color(css: str) -> tuple[RGB, float] | None:
    """`rgb(…)`/`rgba(…)` as computed by the browser → ((r, g, b), alpha); None otherwise."""
    m = _RGBA.fullmatch(css.strip())
    if not m:
        return None
    rgb = tuple(round(float(c)) for c in m.groups()[:3])
    alpha_text = m.group(4)
    if alpha_text is None:
        alpha = 1.0
    elif alpha_text.endswith("%"):
        alpha = float(alpha_text[:-1]) / 100
    else:
        alpha = float(alpha_text)
    return rgb, alpha  # type: ignore[return-value]


def to_hex(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _lab(rgb: RGB | np.ndarray) -> np.ndarray:
    return rgb2lab(np.asarray(rgb, dtype=float).reshape(1, 1, 3) / 255.0)[0, 0]


def delta_e(a: RGB, b: RGB) -> float:
    return float(deltaE_ciede2000(_lab(a), _lab(b)))


def _from_lab(lab: np.ndarray) -> tuple[RGB, bool]:
    with warnings.catch_warnings():  # out-of-gamut values are clipped, and reported below
        warnings.simplefilter("ignore", UserWarning)
        rgb = lab2rgb(lab.reshape(1, 1, 3))[0, 0]
    in_gamut = bool(np.all((rgb >= -1e-3) & (rgb <= 1 + 1e-3)))
    return tuple(int(round(c)) for c in np.clip(rgb, 0, 1) * 255), in_gamut  # type: ignore[return-value]


def shift_color(rgb: RGB, target: float, rng: np.random.Generator, tries: int = 24) -> RGB | None:
    """A colour about `target` CIEDE2000 away from `rgb`, in a random in-gamut direction."""
    origin = _lab(rgb)
    best: tuple[float, RGB] | None = None
    for _ in range(tries):
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        lo, hi = 0.0, 150.0
        for _ in range(24):  # bisect the Lab step that gives the target distance
            mid = (lo + hi) / 2
            if float(deltaE_ciede2000(origin, origin + mid * direction)) < target:
                lo = mid
            else:
                hi = mid
        candidate, in_gamut = _from_lab(origin + hi * direction)
        if not in_gamut:
            continue
        error = abs(delta_e(rgb, candidate) - target)
        if best is None or error < best[0]:
            best = (error, candidate)
        if error < 0.5:
            break
    return best[1] if best else None


@lru_cache(maxsize=1)
def _named_labs() -> tuple[list[str], np.ndarray]:
    names = sorted(webcolors.names("css3"))
    labs = np.array([_lab(tuple(webcolors.name_to_rgb(n))) for n in names])
    return names, labs


def color_name(rgb: RGB) -> str:
    """The nearest CSS colour name by CIEDE2000."""
    names, labs = _named_labs()
    distances = deltaE_ciede2000(np.broadcast_to(_lab(rgb), labs.shape), labs)
    return names[int(np.argmin(distances))]
