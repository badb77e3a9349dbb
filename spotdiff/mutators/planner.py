"""Choose what to try on a loaded page: operator × element × tier, interleaved across operators."""

from __future__ import annotations

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
    return element.box[2] >= rule.min_width and element.box[3] >= rule.min_height


def _target(spec: OperatorSpec, tier: str, rng: np.random.Generator) -> float:
    lo, hi = spec.tiers[tier]
    if isinstance(spec.value, StepsValue):
        return float(rng.integers(int(lo), int(hi) + 1))
    return float(rng.uniform(lo, hi))


def plan(elements: Sequence[Element], catalogue: dict[str, OperatorSpec],
         rng: np.random.Generator, ctx: PageContext,
         tiers: Sequence[str] = TIERS) -> Iterator[tuple[str, Mutation | str]]:
    """Yield (operator, mutation) to try, or (operator, reason) when no value could be derived.

    Operators take turns so a page's budget is spread across them; each element is tried at
    most once per operator.
    """
    pools = {
        name: [elements[i] for i in rng.permutation(len(elements))
               if eligible(spec, elements[i])]
        for name, spec in catalogue.items()
    }
    while any(pools.values()):
        for name in rng.permutation(sorted(pools)):
            pool = pools[name]
            if not pool:
                continue
            spec, element = catalogue[name], pool.pop()
            tier = str(rng.choice(list(tiers)))
            change = derive(spec, element, _target(spec, tier, rng), rng, ctx)
            if change is None:
                yield name, "no_value"
                continue
            applied_tier = spec.tier_of(change.magnitude)
            if applied_tier is None:
                yield name, "magnitude_outside_tiers"
                continue
            yield name, Mutation(
                operator=name, mechanism=spec.mechanism, element=element,
                property=spec.property, old_value=change.old, new_value=change.new,
                direction=change.direction, magnitude=change.magnitude, tier=applied_tier,
            )


def page_context(elements: Sequence[Element]) -> PageContext:
    """Replacement words drawn from the page's own text, in a stable order."""
    words = sorted({w for e in elements if "text" in e.flags for w in e.text.split()
                    if w.isalpha() and len(w) > 1})
    return PageContext(vocabulary=tuple(words))
