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
    if rule.step is not None:
        new = round(new / (rule.step * scale)) * rule.step * scale
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


# words too common to be the word a copy edit changes, or to replace one with
_STOPWORDS = frozenset(["a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from",
                        "has", "have", "in", "is", "it", "its", "of", "on", "or", "that", "the",
                        "this", "to", "was", "were", "will", "with", "you", "your", "our", "we",
                        "not", "no", "all", "any", "can", "more"])


def _case_like(word: str, model: str) -> str:
    if model.isupper() and len(model) > 1:
        return word.upper()
    if model[:1].isupper():
        return word[:1].upper() + word[1:].lower()
    return word.lower()


def _same_kind(word: str, other: str) -> bool:
    """Words a copy editor would swap for each other: in the same script, not function words,
    and for Latin words the same ending (-ing, -ed, -s …) and about the same length."""
    a, b = word.lower(), other.lower()
    if b == a or b in _STOPWORDS or len(b) < 3 or a.isascii() != b.isascii():
        return False
    if a.isascii():
        return a[-2:] == b[-2:] and abs(len(a) - len(b)) <= 3
    return True


def _number_edits(old: str, rng: np.random.Generator) -> list[str]:
    """The text with one digit of one of its numbers changed (no leading zero made)."""
    edits = []
    for m in _NUMBER.finditer(old):
        for pos in range(m.start(), m.end()):
            if not old[pos].isdigit():
                continue
            digit = str((int(old[pos]) + int(rng.integers(1, 10))) % 10)
            leading = pos == m.start() or not old[pos - 1].isdigit()
            if digit == "0" and leading and pos + 1 < m.end() and old[pos + 1].isdigit():
                continue
            edits.append(old[:pos] + digit + old[pos + 1:])
    return edits


def _word_edits(old: str, vocabulary: tuple[str, ...]) -> list[str]:
    """The text with one word replaced by a word of the same kind from the page, or dropped."""
    edits = []
    words = [w for w in _WORD.finditer(old) if w.group().isalpha()]
    for i, w in enumerate(words):
        word = w.group()
        if word.lower() in _STOPWORDS or len(word) < 3:
            continue
        for other in vocabulary if len(word) > 3 or not word.isascii() else ():
            if _same_kind(word, other):
                edits.append(old[: w.start()] + _case_like(other, word) + old[w.end():])
        if len(words) >= 3 and i > 0:  # dropping a later word of a phrase reads as an edit
            edits.append((old[: w.start()].rstrip() + " " + old[w.end():].lstrip()).strip())
    return edits


def text(rule: TextValue, spec: OperatorSpec, element: Element, target: float,
         rng: np.random.Generator, ctx: PageContext) -> Change | None:
    """One copy edit of the text — a number changed, a word replaced by one of the same kind
    from the page, or a word dropped — the one whose edit distance is nearest `target`."""
    old = element.text
    edits = sorted(set(_number_edits(old, rng)) | set(_word_edits(old, ctx.vocabulary)))
    edits = [e for e in edits if e.strip() and e != old]
    if not edits:
        return None
    distances = np.array([Levenshtein.distance(old, e) for e in edits])
    nearest = np.flatnonzero(np.abs(distances - target) == np.abs(distances - target).min())
    pick = int(rng.choice(nearest))
    return Change(old=old, new=edits[pick], magnitude=int(distances[pick]), direction="changed")


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
