"""Choose what to try on a loaded page: operator × element × tier, interleaved across operators."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from spotdiff.mutators import aim as aim_mod
from spotdiff.mutators import class_swap
from spotdiff.mutators.aim import Aim
from spotdiff.mutators.catalogue import OperatorSpec, StepsValue
from spotdiff.mutators.stylesheets import Scales, Viewport
from spotdiff.mutators.values import Change, PageContext, derive
from spotdiff.records import TIERS, Element, Mutation, RuleTarget
from spotdiff.renderer.mechanisms import mechanism_name

CLASS_SWAP = "class_swap"
RULE_EDIT = "rule_edit"


def eligible(spec: OperatorSpec, element: Element, mechanism: str | None = None) -> bool:
    """Whether `element` qualifies for the operator. The class-swap twin does not ask the
    operator's own property to be at a given value (`styles` entries for it): the inline change
    builds on that value, a class swap replaces what the class gives."""
    rule = spec.applies_to
    own = spec.read or spec.property if mechanism == CLASS_SWAP else None
    if not set(rule.requires) <= element.flags or set(rule.excludes) & element.flags:
        return False
    if rule.requires_any and not set(rule.requires_any) & element.flags:
        return False
    if rule.tags is not None and element.tag not in rule.tags:
        return False
    if element.tag in rule.exclude_tags:
        return False
    if element.box[2] < rule.min_width or element.box[3] < rule.min_height:
        return False
    return all(re.fullmatch(pattern, element.styles.get(prop, ""))
               for prop, pattern in rule.styles.items() if prop != own)


def _target(spec: OperatorSpec, tier: str, rng: np.random.Generator) -> float:
    lo, hi = spec.tiers[tier]
    if isinstance(spec.value, StepsValue):
        return float(rng.integers(int(lo), int(hi) + 1))
    return float(rng.uniform(lo, hi))


def area_percent(element: Element, viewport: tuple[int, int]) -> float:
    return round(100 * element.box[2] * element.box[3] / (viewport[0] * viewport[1]), 3)


OTHER = ""  # the turn group of the mechanisms a mix does not name


def plan(elements: Sequence[Element], catalogue: dict[str, OperatorSpec],
         rng: np.random.Generator, ctx: PageContext, viewport: tuple[int, int],
         tiers: Sequence[str] = TIERS, scales: Scales | None = None,
         mechanisms: Mapping[str, float] | None = None,
         rules: Sequence[RuleTarget] = (),
         aim: Aim | None = None,
         ) -> Iterator[tuple[str, Mutation | str]]:
    """Yield (operator, mutation) to try, or (operator, reason) when no value could be derived.

    Operators take turns so a page's budget is spread across them; each element is tried at
    most once per operator, in a tier its size admits. An operator with a `class_swap` rule also
    has the class-swap twin, on elements on a utility scale (from `scales`) of its property:
    through a class they carry (swapped), or showing a member's value (that member added).
    A `style` operator written as the plain value also has the rule-edit twin, on elements that
    a stylesheet rule of `rules` matching them alone declares its property for.
    `mechanisms` gives named mechanisms (ground-truth names: `class_swap`, `inline`, …) their
    share of the turns while the page offers them; the rest of the turns go to the mechanisms it
    does not name, operator by operator as before. The twins are offered only when named.
    With `aim` (the tries at one cell), each try the caller observed into it is followed by its
    element again at a magnitude aimed at the cell's visibility band (`mutators/aim.py`).
    """
    shares = dict(mechanisms or {})
    view = Viewport(*viewport)
    swap_options: dict[tuple[str, int], list[class_swap.SwapOption]] = {}
    edit_rules: dict[tuple[str, int], RuleTarget] = {}
    rules_of: dict[str, list[RuleTarget]] = {}
    for r in rules:
        rules_of.setdefault(r.selector, []).append(r)

    def admitted(spec: OperatorSpec, element: Element) -> bool:
        return bool(set(spec.tiers_for_area(area_percent(element, viewport))) & set(tiers))

    def group(mechanism: str) -> str:
        name = mechanism_name(mechanism)
        return name if name in shares else OTHER

    pools: dict[str, dict[str, list[Element]]] = {g: {} for g in (*shares, OTHER)}
    for name, spec in catalogue.items():
        order = [elements[i] for i in rng.permutation(len(elements))]
        pools[group(spec.mechanism)][name] = [e for e in order
                                              if eligible(spec, e) and admitted(spec, e)]
        if spec.class_swap is not None and scales is not None and group(CLASS_SWAP) != OTHER:
            for e in order:
                if eligible(spec, e, CLASS_SWAP) and admitted(spec, e):
                    found = class_swap.options(spec, e, scales, view)
                    if found:
                        swap_options[(name, e.index)] = found
            # elements carrying a class of the scale are drawn (popped) before the ones a class
            # would be added to: they are the scarcer, and a swap is the commoner site change
            pools[CLASS_SWAP][name] = sorted(
                (e for e in order if (name, e.index) in swap_options),
                key=lambda e: swap_options[(name, e.index)][0].old_class is not None)
        if (spec.mechanism == "style" and spec.format == "{value}"
                and group(RULE_EDIT) != OTHER):
            for e in order:
                declaring = [r for r in rules_of.get(e.selector, ())
                             if spec.property in r.properties]
                if declaring and eligible(spec, e) and admitted(spec, e):
                    edit_rules[(name, e.index)] = declaring[-1]  # the latest of equals wins
            pools[RULE_EDIT][name] = [e for e in order if (name, e.index) in edit_rules]
    weights = {g: shares.get(g, max(0.0, 1 - sum(shares.values()))) for g in pools}
    turns: dict[str, list[str]] = {g: [] for g in pools}  # operators still to take this round
    tried: set[tuple[str, int]] = set()
    while True:
        if aim is not None and aim.last is not None:
            retry = _aimed_retry(aim, catalogue[aim.last.operator], swap_options, edit_rules,
                                 rng, ctx, viewport)
            if retry is not None:
                yield retry.operator, retry
                continue
        ready = [g for g in pools if weights[g] > 0 and any(pools[g].values())]
        if not ready:
            return
        g = ready[0]
        if len(ready) > 1:
            w = np.array([weights[r] for r in ready])
            g = ready[int(rng.choice(len(ready), p=w / w.sum()))]
        if not turns[g]:
            turns[g] = [str(n) for n in rng.permutation(sorted(n for n, p in pools[g].items()
                                                               if p))]
        name = turns[g].pop(0)
        if not pools[g][name]:
            continue
        pool = pools[g][name]
        wanted_area = aim.areas.get(name) if aim is not None else None
        spec, element = catalogue[name], pool.pop(
            -1 if wanted_area is None else _nearest_area(pool, wanted_area, viewport))
        mechanism = g if g in (CLASS_SWAP, RULE_EDIT) else spec.mechanism
        if (name, element.index) in tried:
            continue
        tried.add((name, element.index))
        area = area_percent(element, viewport)
        tier = str(rng.choice([t for t in spec.tiers_for_area(area) if t in tiers]))
        target = _target(spec, tier, rng)
        swap = None
        rule = edit_rules.get((name, element.index)) if mechanism == RULE_EDIT else None
        if mechanism == CLASS_SWAP:
            swap = class_swap.pick(spec, element, swap_options[(name, element.index)],
                                   target, tier, area, rng, view)
            change: Change | None = swap.change if swap else None
        else:
            change = derive(spec, element, target, rng, ctx)
        if change is None:
            yield name, "no_value"
            continue
        magnitude = area if spec.magnitude == "area" else change.magnitude
        applied_tier = (class_swap.tier_of(spec, magnitude, area) if swap
                        else spec.tier_of(magnitude, area))
        if applied_tier is None:
            yield name, "magnitude_outside_tiers"
            continue
        yield name, _mutation(spec, mechanism, element, change, magnitude, applied_tier, swap,
                              rule, spec.tiers[tier] if spec.magnitude == "value" else None)


def _mutation(spec: OperatorSpec, mechanism: str, element: Element, change: Change,
              magnitude: float, tier: str, swap: class_swap.Swap | None,
              rule: RuleTarget | None, magnitude_range: tuple[float, float] | None) -> Mutation:
    return Mutation(
        operator=spec.name, mechanism=mechanism, element=element,
        property=spec.property, old_value=change.old, new_value=change.new,
        direction=spec.directions.get(change.direction, change.direction),
        magnitude=magnitude, tier=tier,
        css_value="" if swap else spec.format.format(value=change.new, old=change.old),
        old_class=swap.old_class if swap else None,
        new_class=swap.new_class if swap else None,
        steps=swap.steps if swap else 0,
        rule_selector=rule.rule_selector if rule else "",
        rule=rule.rule if rule else -1,
        magnitude_range=magnitude_range,
    )


def _aimed_retry(aim: Aim, spec: OperatorSpec,
                 swap_options: dict[tuple[str, int], list[class_swap.SwapOption]],
                 edit_rules: dict[tuple[str, int], RuleTarget], rng: np.random.Generator,
                 ctx: PageContext, viewport: tuple[int, int]) -> Mutation | None:
    """The last try's element again at a magnitude aimed at the cell's band (its magnitude was
    aimed, not drawn: no range); else, for a pixel-counted measure, the next element is to be
    drawn nearest the area the band asks for. Consumes the observation."""
    m, scale = aim.last, aim.scale
    assert m is not None
    aim.last = None
    if aim.retries < aim_mod.RETRIES:
        key = (spec.name, m.element.index)
        rule = edit_rules.get(key) if m.mechanism == RULE_EDIT else None
        swap = None
        if m.mechanism == CLASS_SWAP:
            swap = aim_mod.swap_change(spec, m, scale, swap_options.get(key, []),
                                       Viewport(*viewport), aim.reverse)
            change = swap.change if swap else None
        else:
            change = aim_mod.value_change(spec, m, scale, rng, ctx, aim.reverse)
        if change is not None:
            return _mutation(spec, m.mechanism, m.element, change, change.magnitude, aim.tier,
                             swap, rule, None)
    if spec.visibility.measure == "visible_px" and not aim.reverse:
        aim.want_area(spec.name, area_percent(m.element, viewport) * scale)
    return None


def _nearest_area(pool: list[Element], area: float, viewport: tuple[int, int]) -> int:
    """The index in `pool` of the element whose area is nearest `area`, by ratio (the last of
    equals: the pool is popped from its end)."""
    gaps = [abs(math.log(max(area_percent(e, viewport), 1e-6) / max(area, 1e-6))) for e in pool]
    return len(pool) - 1 - int(np.argmin(gaps[::-1]))


def page_context(elements: Sequence[Element]) -> PageContext:
    """Replacement words and images drawn from the page itself, in a stable order."""
    words = sorted({w for e in elements if "text" in e.flags for w in e.text.split()
                    if w.isalpha() and len(w) > 1})
    images = sorted({e.src for e in elements if e.src})
    return PageContext(vocabulary=tuple(words), images=tuple(images))
