"""Aiming a cell's tries at the visibility its tier asks for.

A pair's tier is measured after the screenshot (`OperatorSpec.visibility_tier`), so a magnitude
drawn from the tier's value range often lands in another tier, or under the floor. Each try's
measure says how far off it was; the next try at the same cell scales the magnitude on the
same element toward the middle of the tier's band, or, where the magnitude cannot move it and
the measure counts pixels, takes the element whose size is nearest the size the band asks for.
Only the tries' own measures are read, so a page's tries stay a function of seed and page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from spotdiff.mutators import class_swap
from spotdiff.mutators.catalogue import NumericValue, OperatorSpec, StepsValue
from spotdiff.mutators.stylesheets import Viewport
from spotdiff.mutators.values import Change, PageContext, derive
from spotdiff.records import Mutation

STEP = 3.0  # the most one try's measure scales the next try's magnitude (or area) by
RETRIES = 2  # tries of one element again, beyond the first
# outcomes whose measure aims the next try: kept in another tier, too faint to keep, or too
# faint to move a pixel at all
AIMED_FROM = (None, "invisible", "no_effect")
# a change that moved content outside its box (a taller line pushing the page down) is tried once
# the other way on the same element: a smaller line in a table cell or a flex row moves nothing
REVERSED_FROM = "contaminated"


def band(spec: OperatorSpec, tier: str) -> tuple[float, float] | None:
    """The measured visibility that lands a pair in `tier`; None without calibrated bounds."""
    bounds = spec.visibility.bounds
    if bounds is None:
        return None
    floor = spec.visibility.floor or 0.0
    return {"hard": (floor, bounds[0]), "medium": bounds, "easy": (bounds[1], math.inf)}[tier]


def factor(spec: OperatorSpec, tier: str, measured: float) -> float | None:
    """How many times more visible a change measuring `measured` must be to land in the middle
    of `tier`'s band (geometric; easy: 1.5× its lower bound), within 1/STEP..STEP; None when it
    lands in the band already or the operator has no bounds."""
    found = band(spec, tier)
    if found is None or found[0] <= measured < found[1]:
        return None
    lo, hi = found
    goal = 1.5 * lo if math.isinf(hi) else math.sqrt(lo * hi) if lo > 0 else hi / 2
    if measured <= 0:
        return STEP
    return float(np.clip(goal / measured, 1 / STEP, STEP))


@dataclass
class Aim:
    """The feedback of one cell's tries to the planner: `observe` each try's outcome, and the
    planner reads `last` and `scale` for the next one."""

    tier: str
    last: Mutation | None = None  # the last try, when its measure aims the next one
    scale: float = 1.0  # how many times more visible the next try should be
    reverse: bool = False  # the next try changes the value the other way
    retries: int = 0  # tries of `last`'s element beyond its first
    element: int = -1  # the element of the last try observed
    areas: dict[str, float] = field(default_factory=dict)  # operator → element area to draw

    def observe(self, spec: OperatorSpec, mutations: Sequence[Mutation],
                reason: str | None) -> None:
        self.last = None
        if len(mutations) != 1:
            return
        m = mutations[0]
        same = m.element.index == self.element
        self.retries = self.retries + 1 if same else 0
        self.element = m.element.index
        if reason == REVERSED_FROM and not same:
            self.last, self.scale, self.reverse = m, 1.0, True
            return
        if reason not in AIMED_FROM or (m.visibility is None and reason != "no_effect"):
            return  # (a no_effect foreseen from its layout was never measured)
        scale = STEP if reason == "no_effect" else factor(spec, self.tier, m.visibility[1])
        if scale is not None:
            self.last, self.scale, self.reverse = m, scale, False

    def want_area(self, operator: str, area: float) -> None:
        """Draw the operator's next element nearest `area` (% of the viewport)."""
        self.areas[operator] = area


OPPOSITE = {"increase": "decrease", "decrease": "increase"}


def _raw_direction(spec: OperatorSpec, m: Mutation) -> str:
    """The value rule's direction (increase/decrease) of a mutation ground truth renamed."""
    return next((k for k, v in spec.directions.items() if v == m.direction), m.direction)


def _moves(old: float, new: float, scale: float) -> bool:
    return new > old if scale > 1 else new < old if scale < 1 else True


def value_change(spec: OperatorSpec, m: Mutation, scale: float, rng: np.random.Generator,
                 ctx: PageContext, reverse: bool = False) -> Change | None:
    """The element's value moved by the last try's magnitude × `scale`, in the same direction
    (`reverse`: the other one, which the value rule must allow); None when the value rule
    cannot move it that way."""
    if spec.magnitude != "value" or m.magnitude <= 0:
        return None
    if reverse and (getattr(spec.value, "direction", "") != "either"
                    or _raw_direction(spec, m) not in OPPOSITE):
        return None
    target = m.magnitude * scale
    rule = spec.value
    if isinstance(rule, StepsValue):
        target = max(round(target), 1)
        if target == m.magnitude:
            target = m.magnitude + (1 if scale > 1 else -1)
        if target < 1:
            return None
    direction = _raw_direction(spec, m)
    direction = OPPOSITE[direction] if reverse else direction
    if isinstance(rule, NumericValue | StepsValue) and direction in OPPOSITE:
        spec = spec.model_copy(update={"value": rule.model_copy(update={"direction": direction})})
    change = derive(spec, m.element, target, rng, ctx)
    return change if change is not None and _moves(m.magnitude, change.magnitude, scale) else None


def swap_change(spec: OperatorSpec, m: Mutation, scale: float,
                options: list[class_swap.SwapOption], viewport: Viewport,
                reverse: bool = False) -> class_swap.Swap | None:
    """Another class of the element's scales whose change is nearest the last try's magnitude ×
    `scale`, in the same direction (`reverse`: the other one)."""
    if spec.magnitude != "value" or m.magnitude <= 0:
        return None
    target = m.magnitude * scale
    direction = _raw_direction(spec, m)
    direction = OPPOSITE.get(direction, "") if reverse else direction
    moved = [s for o in options for s in class_swap.swaps(spec, m.element, o, viewport)
             if s.new_class != m.new_class and _moves(m.magnitude, s.change.magnitude, scale)
             and s.change.direction == direction]
    return min(moved, key=lambda s: abs(s.change.magnitude - target), default=None)
