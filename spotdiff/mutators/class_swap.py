"""The class-swap twin of a value operator: the element's utility class swapped for another class
of its scale, or a class of a scale added, measured in the operator's own terms (px, weight
steps, ΔE2000, keywords) so the twin shares the inline change's tiers, gate and sentence.

The element's step on a scale is the class of it that decides its value (what the class's rule
gives must be what the element shows now: a class overridden by a more specific rule would
change nothing); on an element carrying no class of the scale, the member whose value it shows
(opacity 1 is `opacity-100`, weight 400 `fw-normal`), and a class of the scale is added to it,
the way sites mark a card `opacity-50` or a box `p-3`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spotdiff.mutators.catalogue import (
    ColorValue,
    KeywordValue,
    NumericValue,
    OperatorSpec,
    StepsValue,
)
from spotdiff.mutators.colors import RGB, delta_e, parse_color, to_hex
from spotdiff.mutators.stylesheets import (
    Scale,
    Scales,
    Viewport,
    authored_color,
    length_px,
    shorthand_length,
)
from spotdiff.mutators.values import Change, current, first_number, font_px
from spotdiff.records import Element

Reading = float | int | RGB | str  # a value in the rule's terms: px or number, step, colour, word


@dataclass(frozen=True)
class SwapOption:
    """A scale of the operator's property and the element's step on it."""

    old_class: str | None  # the class of the scale the element carries; None: it carries none
    scale: Scale
    property: str
    start: int  # the member whose value the element shows


@dataclass(frozen=True)
class Swap:
    change: Change
    old_class: str | None  # None: `new_class` is added
    new_class: str
    steps: int  # classes moved along the scale


def _nearest_step(values: list[str], number: float) -> int | None:
    numbers = [first_number(v) for v in values]
    if None in numbers:
        return None
    return int(np.argmin([abs(n - number) for n in numbers]))  # type: ignore[operator]


def read(spec: OperatorSpec, element: Element, value: str,
         viewport: Viewport = Viewport()) -> Reading | None:  # noqa: B008 - frozen default
    """`value` (authored by a class, or computed by the browser) in the terms of the operator's
    value rule; None when it has none."""
    rule = spec.value
    value = value.strip()
    if isinstance(rule, NumericValue) and spec.class_swap is not None and spec.class_swap.radius:
        return _radius_px(value, element, viewport)
    if isinstance(rule, NumericValue):
        scale = font_px(element) if rule.unit == "em" else 1.0
        if value in rule.keywords:
            return rule.keywords[value] * scale
        px = length_px(value, font_px(element), viewport)
        if px is None:  # a shorthand's one length: `border: 1px solid #dee2e6`
            px = shorthand_length(value, font_px(element), viewport)
        if px is not None and rule.unit == "em" and _is_number(value):
            px *= scale  # a unitless line height is a multiple of the font size
        return px
    if isinstance(rule, StepsValue):
        if value in rule.values:
            return rule.values.index(value)
        number = first_number(value) if _is_number(value) else None
        return None if number is None else _nearest_step(rule.values, number)
    if isinstance(rule, ColorValue):
        parsed = authored_color(value)
        return parsed[0] if parsed is not None and parsed[1] >= 0.99 else None
    if isinstance(rule, KeywordValue):
        return value if value.replace("-", "").isalpha() else None
    return None


def _radius_px(value: str, element: Element, viewport: Viewport) -> float | None:
    """The corner radius `value` (its first corner) paints on the element, never more than half
    its shorter side (a 50rem pill is a half-height corner). A percentage is read only on a
    square box: on another it draws elliptical corners that no px radius states."""
    first = value.split()[0] if value else ""
    side = min(element.box[2], element.box[3])
    if first.endswith("%"):
        if abs(element.box[2] - element.box[3]) > 1:
            return None
        number = first_number(first)
        px = None if number is None else number * side / 100
    else:
        px = length_px(first, font_px(element), viewport)
    return None if px is None else min(px, side / 2)


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _current(spec: OperatorSpec, element: Element) -> Reading | None:
    rule, value = spec.value, current(spec, element)
    if isinstance(rule, NumericValue) and spec.class_swap is not None and spec.class_swap.radius:
        return read(spec, element, value)
    if isinstance(rule, NumericValue):
        scale = font_px(element) if rule.unit == "em" else 1.0
        return first_number(value, {k: v * scale for k, v in rule.keywords.items()})
    if isinstance(rule, ColorValue):
        parsed = parse_color(value)
        return parsed[0] if parsed is not None and parsed[1] >= 0.5 else None
    return read(spec, element, value)


def same(spec: OperatorSpec, a: Reading | None, b: Reading | None) -> bool:
    """Whether two readings are one value as far as the eye and the sentence go."""
    if a is None or b is None:
        return False
    if isinstance(spec.value, NumericValue):
        return abs(float(a) - float(b)) <= (0.005 if spec.value.unit == "number" else 0.5)  # type: ignore[arg-type]
    if isinstance(spec.value, ColorValue):
        return delta_e(a, b) < 1.0  # type: ignore[arg-type]
    return a == b


def _change(spec: OperatorSpec, element: Element, old: Reading, new: Reading) -> Change | None:
    rule = spec.value
    if same(spec, old, new):
        return None
    if isinstance(rule, NumericValue):
        old_f, new_f = float(old), float(new)  # type: ignore[arg-type]
        if ((rule.minimum is not None and new_f < rule.minimum * _em(rule, element))
                or (rule.maximum is not None and new_f > rule.maximum * _em(rule, element))):
            return None
        direction = "increase" if new_f > old_f else "decrease"
        if rule.direction not in ("either", direction):
            return None
        digits = 2 if rule.unit == "number" else 1
        suffix = {"number": "", "deg": "deg"}.get(rule.unit, "px")
        return Change(old=f"{round(old_f, digits):g}{suffix}",
                      new=f"{round(new_f, digits):g}{suffix}",
                      magnitude=round(abs(new_f - old_f) / _em(rule, element), 4),
                      direction=direction)
    if isinstance(rule, StepsValue):
        step = int(new) - int(old)  # type: ignore[call-overload]
        direction = "increase" if step > 0 else "decrease"
        if rule.direction not in ("either", direction):
            return None
        return Change(old=current(spec, element), new=rule.values[int(new)],  # type: ignore[call-overload]
                      magnitude=abs(step), direction=direction)
    if isinstance(rule, ColorValue):
        return Change(old=to_hex(old), new=to_hex(new),  # type: ignore[arg-type]
                      magnitude=round(delta_e(old, new), 2), direction="changed")  # type: ignore[arg-type]
    return Change(old=str(old), new=str(new), magnitude=0, direction="changed")


def _em(rule: NumericValue, element: Element) -> float:
    return font_px(element) if rule.unit == "em" else 1.0


def options(spec: OperatorSpec, element: Element, scales: Scales,
            viewport: Viewport = Viewport()) -> list[SwapOption]:  # noqa: B008 - frozen default
    """The scales of the operator's property the element is on: through a class it carries that
    decides its value now, or, carrying none of the scale, through the member whose value it
    shows (the first, when several give it). An element on a scale through its own class is
    changed by swapping it; a class is added only to one that carries none that decides."""
    rule = spec.class_swap
    if rule is None:
        return []
    allowed = set(rule.properties) | set(rule.companions)
    now = _current(spec, element)
    found = []
    seen: set[int] = set()
    for scale in (s for p in rule.properties for s in scales.setting(p)):
        prop = next(p for p in rule.properties if p in scale.properties)
        if id(scale) in seen or not set(scale.properties) <= allowed:
            continue
        seen.add(id(scale))
        names = [u.name for u in scale.members]
        carried = [c for c in element.classes if c in names]
        steps = [names.index(c) for c in carried] or range(len(names))
        start = next((i for i in steps if same(
            spec, read(spec, element, scale.members[i].value(prop), viewport), now)), None)
        if start is not None:
            found.append(SwapOption(names[start] if carried else None, scale, prop, start))
    swapped = [o for o in found if o.old_class is not None]
    return swapped or found


def swaps(spec: OperatorSpec, element: Element, option: SwapOption,
          viewport: Viewport = Viewport()) -> list[Swap]:  # noqa: B008 - frozen default
    """Every other class of the option's scale, as the change it would make."""
    old = _current(spec, element)
    out = []
    for i, member in enumerate(option.scale.members):
        if i == option.start or old is None:
            continue
        new = read(spec, element, member.value(option.property), viewport)
        change = None if new is None else _change(spec, element, old, new)
        if change is not None:
            out.append(Swap(change, option.old_class, member.name, abs(i - option.start)))
    return out


def pick(spec: OperatorSpec, element: Element, found: list[SwapOption], target: float,
         tier: str, area: float, rng: np.random.Generator,
         viewport: Viewport = Viewport()) -> Swap | None:  # noqa: B008 - frozen default
    """A swap whose magnitude falls in `tier` (any, for operators tiered by area), else the one
    nearest `target`; None when the scales offer no change."""
    candidates = [s for option in found for s in swaps(spec, element, option, viewport)]
    if not candidates:
        return None
    if spec.magnitude == "area":
        return candidates[int(rng.integers(0, len(candidates)))]
    in_tier = [s for s in candidates if tier_of(spec, s.change.magnitude, area) == tier]
    if in_tier:
        return in_tier[int(rng.integers(0, len(in_tier)))]
    return min(candidates, key=lambda s: abs(s.change.magnitude - target))


def tier_of(spec: OperatorSpec, magnitude: float, area: float) -> str | None:
    """The tier of a swap's magnitude: the operator's, except that a swap past the top of the
    easy range is easy where the easy tier admits the element (a scale's ends lie further apart
    than the inline change goes: `rounded` → `rounded-circle`, `fs-1` → `fs-6`)."""
    found = spec.tier_of(magnitude, area)
    if found is None and magnitude > spec.tiers["easy"][1] and "easy" in spec.tiers_for_area(area):
        return "easy"
    return found


def holds(spec: OperatorSpec, element: Element, expected: str, computed: str) -> bool:
    """Whether the value the browser computed after a class swap (or a rule edit) is the one
    ground truth states."""
    return same(spec, read(spec, element, expected), read(spec, element, computed))
