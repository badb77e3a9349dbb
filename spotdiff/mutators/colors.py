"""Colours: parse computed CSS colours, measure CIEDE2000, move by a distance, name in words.

Names come from the XKCD colour survey (the names people gave colours, as matplotlib ships
them), a name only when it lies within `NAME_RADIUS` of the colour; two colours with the same
name are told apart by the direction of the change ("a darker, bluer slate")."""

from __future__ import annotations

import re
import warnings
from functools import lru_cache

import numpy as np
from matplotlib._color_data import XKCD_COLORS
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


# A page's elements and a scale's classes share a few dozen colours, compared many times over
# (scikit-image takes ~40 us a call on one colour)
@lru_cache(maxsize=4096)
def _lab(rgb: RGB) -> np.ndarray:
    lab = rgb2lab(np.asarray(rgb, dtype=float).reshape(1, 1, 3) / 255.0)[0, 0]
    lab.setflags(write=False)
    return lab


@lru_cache(maxsize=65536)
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
        candidate, in_gamut = _from_lab(origin + _step_to(origin, direction, target) * direction)
        if not in_gamut:
            continue
        error = abs(delta_e(rgb, candidate) - target)
        if best is None or error < best[0]:
            best = (error, candidate)
        if error < 0.5:
            break
    return best[1] if best else None


def _step_to(origin: np.ndarray, direction: np.ndarray, target: float,
             longest: float = 150.0) -> float:
    """The Lab step along `direction` at which the CIEDE2000 distance from `origin` first
    reaches `target` (to 150 / 63³ ≈ 0.0006), `longest` if it never does: three rounds of 64
    steps, each a single call, in place of a bisection's 24."""
    lo, hi = 0.0, longest
    for _ in range(3):
        steps = np.linspace(lo, hi, 64)
        points = origin + steps[:, None] * direction
        reached = deltaE_ciede2000(np.broadcast_to(origin, points.shape), points) >= target
        if not reached.any():
            return longest
        first = int(np.argmax(reached))
        if first == 0:
            return float(steps[0])
        lo, hi = float(steps[first - 1]), float(steps[first])
    return hi


NAME_RADIUS = 7.0  # ΔE2000: a nearest name further than this misleads more than it helps
# survey names nobody would put in a description: crude, misspelt, or a modifier alone
_UNUSED_WORDS = ("poo", "puke", "vomit", "snot", "barf", "booger", "diarrhea", "shit", "piss",
                 "ugly", "dirt", "mud", "sick", "/")
_UNUSED_NAMES = {"dark", "pale", "bluish", "brownish", "greenish", "greyish", "pinkish", "reddish",
                 "yellowish", "purplish", "purpley", "purply", "pinky", "orangeish", "orangish",
                 "purpleish", "tealish", "barney", "blurple", "burple", "bland", "bile", "blood",
                 "bruise", "azul", "rosa", "liliac", "perrywinkle", "ocre", "terracota", "toupe",
                 "manilla", "creme", "royal", "golden", "sandy", "camo", "dust", "earth", "ice"}
_DIRECTION_STEP = 4.0  # Lab units a component must move to be named


@lru_cache(maxsize=1)
def _named_labs() -> tuple[list[str], np.ndarray]:
    names = sorted(n.removeprefix("xkcd:") for n in XKCD_COLORS
                   if not any(word in n for word in _UNUSED_WORDS)
                   and n.removeprefix("xkcd:") not in _UNUSED_NAMES)
    labs = np.array([_lab(tuple(int(XKCD_COLORS["xkcd:" + n][i: i + 2], 16) for i in (1, 3, 5)))
                     for n in names])
    return names, labs


def color_name(rgb: RGB) -> str | None:
    """The nearest survey colour name by CIEDE2000, None when none is within NAME_RADIUS."""
    names, labs = _named_labs()
    distances = deltaE_ciede2000(np.broadcast_to(_lab(rgb), labs.shape), labs)
    nearest = int(np.argmin(distances))
    return names[nearest] if distances[nearest] <= NAME_RADIUS else None


def change_direction(old: RGB, new: RGB) -> str:
    """How `new` differs from `old` in words: up to two of darker/lighter, more/less saturated,
    redder/greener/yellower/bluer, largest first ("" when nothing moved enough)."""
    (l0, a0, b0), (l1, a1, b1) = _lab(old), _lab(new)
    moves = [(l0 - l1, "darker"), (l1 - l0, "lighter"),
             (np.hypot(a1, b1) - np.hypot(a0, b0), "more saturated"),
             (np.hypot(a0, b0) - np.hypot(a1, b1), "less saturated"),
             (a1 - a0, "redder"), (a0 - a1, "greener"), (b1 - b0, "yellower"), (b0 - b1, "bluer")]
    named = [word for step, word in sorted(moves, reverse=True) if step >= _DIRECTION_STEP][:2]
    return ", ".join(named)


def color_words(old: RGB, new: RGB) -> tuple[str, str]:
    """English for both ends of a colour change, hex included: 'slate (#4c5a6f)', '#4c5a6f' when
    no name is near, and 'a darker slate (#3b4656)' when both ends have the same name."""
    old_name, new_name = color_name(old), color_name(new)
    old_text = f"{old_name} ({to_hex(old)})" if old_name else to_hex(old)
    if new_name is None:
        return old_text, to_hex(new)
    if new_name == old_name:
        direction = change_direction(old, new) or "slightly different"
        article = "an" if direction[0] in "aeiou" else "a"
        return old_text, f"{article} {direction} {new_name} ({to_hex(new)})"
    return old_text, f"{new_name} ({to_hex(new)})"
