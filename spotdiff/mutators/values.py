"""Value rules: derive a new value from an element's current one at a requested magnitude.

One function per rule kind, shared by every operator that declares it. Each returns the change
actually made (the applied magnitude may differ from the requested one after clamping or
rounding; the tier is decided from the applied magnitude).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from rapidfuzz.distance import Levenshtein

from spotdiff.mutators.catalogue import (
    ColorValue,
    KeywordValue,
    NoValue,
    NumericValue,
    OperatorSpec,
    PageImageValue,
    StepsValue,
    TextValue,
)
from spotdiff.mutators.colors import delta_e, parse_color, shift_color, to_hex
from spotdiff.records import Element

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Change:
    old: str  # current value, as shown in ground truth
    new: str  # value to apply
    magnitude: float
    direction: str


@dataclass(frozen=True)
class PageContext:
    """Page-wide material some rules draw from (e.g. replacement words)."""

    vocabulary: tuple[str, ...]
    images: tuple[str, ...] = ()


def _pick_sign(direction: str, rng: np.random.Generator) -> int:
    if direction == "increase":
        return 1
    if direction == "decrease":
        return -1
    return 1 if rng.random() < 0.5 else -1


def first_number(css: str, keywords: dict[str, float] | None = None) -> float | None:
    if keywords and css.strip() in keywords:
        return keywords[css.strip()]
    m = _NUMBER.search(css)
    return float(m.group()) if m else None


def current(spec: OperatorSpec, element: Element) -> str:
    return element.styles.get(spec.read or spec.property, "").strip()


def font_px(element: Element) -> float:
    return first_number(element.styles.get("font-size", "")) or 16.0


def numeric(rule: NumericValue, spec: OperatorSpec, element: Element, target: float,
            rng: np.random.Generator, ctx: PageContext) -> Change | None:
    scale = font_px(element) if rule.unit == "em" else 1.0
    old = first_number(current(spec, element),
                        {k: v * scale for k, v in rule.keywords.items()})
    if old is None:
        return None
    lo = rule.minimum * scale if rule.minimum is not None else -np.inf
    hi = rule.maximum * scale if rule.maximum is not None else np.inf
    sign = _pick_sign(rule.direction, rng)
    new = float(np.clip(old + sign * target * scale, lo, hi))
    if rule.direction == "either" and abs(new - old) < target * scale / 2:
        new = float(np.clip(old - sign * target * scale, lo, hi))  # bounded one way: try the other
    new = round(new, 2 if rule.unit == "number" else 1)
    if new == old:
        return None
    suffix = "" if rule.unit == "number" else ("deg" if rule.unit == "deg" else "px")
    return Change(
        old=f"{old:g}{suffix}", new=f"{new:g}{suffix}",
        magnitude=round(abs(new - old) / scale, 4),
        direction="increase" if new > old else "decrease",
    )


def steps(rule: StepsValue, spec: OperatorSpec, element: Element, target: float,
          rng: np.random.Generator, ctx: PageContext) -> Change | None:
    value = current(spec, element)
    values = rule.values
    if value in values:
        index = values.index(value)
    else:
        number = first_number(value)
        numbers = [first_number(v) for v in values]
        if number is None or None in numbers:
            return None
        index = int(np.argmin([abs(n - number) for n in numbers]))  # type: ignore[operator]
    count = max(1, int(round(target)))
    sign = _pick_sign(rule.direction, rng)
    for s in (sign, -sign) if rule.direction == "either" else (sign,):
        new_index = index + s * count
        if 0 <= new_index < len(values):
            return Change(old=value, new=values[new_index], magnitude=count,
                          direction="increase" if s > 0 else "decrease")
    return None


def color(rule: ColorValue, spec: OperatorSpec, element: Element, target: float,
          rng: np.random.Generator, ctx: PageContext) -> Change | None:
    parsed = parse_color(current(spec, element))
    if parsed is None or parsed[1] < 0.5:
        return None
    old = parsed[0]
    new = shift_color(old, target, rng)
    if new is None or new == old:
        return None
    return Change(old=to_hex(old), new=to_hex(new), magnitude=round(delta_e(old, new), 2),
                  direction="changed")


def text(rule: TextValue, spec: OperatorSpec, element: Element, target: float,
         rng: np.random.Generator, ctx: PageContext) -> Change | None:
    """Replace words with other words of the page until the edit distance reaches `target`."""
    old = element.text
    words = list(_WORD.finditer(old))
    if not words or not ctx.vocabulary:
        return None
    new = old
    present = {w.group().lower() for w in words}  # a word the text already has reads as a typo
    for i in rng.permutation(len(words)):
        word = words[i].group()
        choices = [w for w in ctx.vocabulary
                   if w.lower() not in present and w.isascii() == word.isascii()]
        if not choices:
            continue
        # prefer a replacement of similar length, so the change is a word, not a layout shift
        choices.sort(key=lambda w: abs(len(w) - len(word)))
        pick = choices[int(rng.integers(0, min(8, len(choices))))]
        if word[:1].isupper():
            pick = pick[:1].upper() + pick[1:]
        new = new[: words[i].start()] + pick + new[words[i].end():]
        words = list(_WORD.finditer(new))
        if Levenshtein.distance(old, new) >= target:
            break
    distance = Levenshtein.distance(old, new)
    if distance == 0:
        return None
    return Change(old=old, new=new, magnitude=distance, direction="changed")


def keyword(rule: KeywordValue, spec: OperatorSpec, element: Element, target: float,
            rng: np.random.Generator, ctx: PageContext) -> Change | None:
    old = current(spec, element)
    choices = [v for v in rule.values if v != old]
    if not choices:
        return None
    return Change(old=old, new=str(rng.choice(choices)), magnitude=0, direction="changed")


def page_image(rule: PageImageValue, spec: OperatorSpec, element: Element, target: float,
               rng: np.random.Generator, ctx: PageContext) -> Change | None:
    choices = [src for src in ctx.images if src != element.src]
    if not element.src or not choices:
        return None
    return Change(old=element.src, new=str(rng.choice(choices)), magnitude=0,
                  direction="changed")


def no_value(rule: NoValue, spec: OperatorSpec, element: Element, target: float,
             rng: np.random.Generator, ctx: PageContext) -> Change | None:
    return Change(old="present", new=rule.label, magnitude=0, direction=rule.label)


DeriveFn = Callable[..., Change | None]
RULES: dict[str, DeriveFn] = {
    "numeric": numeric, "steps": steps, "color": color, "text": text, "keyword": keyword,
    "page_image": page_image, "none": no_value,
}


def derive(spec: OperatorSpec, element: Element, target: float, rng: np.random.Generator,
           ctx: PageContext) -> Change | None:
    return RULES[spec.value.kind](spec.value, spec, element, target, rng, ctx)
