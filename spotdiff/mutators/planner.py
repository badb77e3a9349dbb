"""Choose what to try on a loaded page: operator × element × tier, interleaved across operators."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

import numpy as np

from spotdiff.mutators.catalogue import TIERS, OperatorSpec, StepsValue
from spotdiff.mutators.values import PageContext, derive
from spotdiff.records import Element, Mutation


def eligible(spec: OperatorSpec, element: Element) -> bool:
    rule = spec.applies_to
    if not set(rule.requires) <= element.flags or set(rule.excludes) & element.flags:
        return False
    if rule.tags is not None and element.tag not in rule.tags:
        return False
    if element.tag in rule.exclude_tags:
        return False
    if element.box[2] < rule.min_width or element.box[3] < rule.min_height:
        return False
    return all(re.fullmatch(pattern, element.styles.get(prop, ""))
               for prop, pattern in rule.styles.items())


def _target(spec: OperatorSpec, tier: str, rng: np.random.Generator) -> float:
    lo, hi = spec.tiers[tier]
    if isinstance(spec.value, StepsValue):
        return float(rng.integers(int(lo), int(hi) + 1))
    return float(rng.uniform(lo, hi))


def area_percent(element: Element, viewport: tuple[int, int]) -> float:
    return round(100 * element.box[2] * element.box[3] / (viewport[0] * viewport[1]), 3)


def plan(elements: Sequence[Element], catalogue: dict[str, OperatorSpec],
         rng: np.random.Generator, ctx: PageContext, viewport: tuple[int, int],
         tiers: Sequence[str] = TIERS) -> Iterator[tuple[str, Mutation | str]]:
    """Yield (operator, mutation) to try, or (operator, reason) when no value could be derived.

    Operators take turns so a page's budget is spread across them; each element is tried at
    most once per operator, in a tier its size admits.
    """
    pools = {
        name: [elements[i] for i in rng.permutation(len(elements))
               if eligible(spec, elements[i])
               and set(spec.tiers_for_area(area_percent(elements[i], viewport))) & set(tiers)]
        for name, spec in catalogue.items()
    }
    while any(pools.values()):
        for name in rng.permutation(sorted(pools)):
            pool = pools[name]
            if not pool:
                continue
            spec, element = catalogue[name], pool.pop()
            area = area_percent(element, viewport)
            tier = str(rng.choice([t for t in spec.tiers_for_area(area) if t in tiers]))
            change = derive(spec, element, _target(spec, tier, rng), rng, ctx)
            if change is None:
                yield name, "no_value"
                continue
            magnitude = area if spec.magnitude == "area" else change.magnitude
            applied_tier = spec.tier_of(magnitude, area)
            if applied_tier is None:
                yield name, "magnitude_outside_tiers"
                continue
            yield name, Mutation(
                operator=name, mechanism=spec.mechanism, element=element,
                property=spec.property, old_value=change.old, new_value=change.new,
                direction=spec.directions.get(change.direction, change.direction),
                magnitude=magnitude, tier=applied_tier,
                css_value=spec.format.format(value=change.new, old=change.old),
                magnitude_range=spec.tiers[tier] if spec.magnitude == "value" else None,
            )


def page_context(elements: Sequence[Element]) -> PageContext:
    """Replacement words and images drawn from the page itself, in a stable order."""
    words = sorted({w for e in elements if "text" in e.flags for w in e.text.split()
                    if w.isalpha() and len(w) > 1})
    images = sorted({e.src for e in elements if e.src})
    return PageContext(vocabulary=tuple(words), images=tuple(images))
