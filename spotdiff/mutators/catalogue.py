"""Operators are data: YAML entries validated into `OperatorSpec`s.

An operator names a mechanism (how the page is changed), a value rule (how the new value is
derived from the element's current one), magnitude tiers, which elements qualify and an English
template. All behaviour lives in the shared mechanisms and value rules; an operator adds no code.
"""

from __future__ import annotations

import builtins
from pathlib import Path
from string import Formatter
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from spotdiff.config import ConfigError, Strict, read_yaml, validate
from spotdiff.records import TIERS, Tier
from spotdiff.renderer.mechanisms import TABLE, MechanismSpec

# the element flags and the mechanisms an operator may name, from renderer/mechanisms.yaml
Flag = Literal[tuple(TABLE.flags)]  # type: ignore[valid-type]
Mechanism = Literal[TABLE.declared]  # type: ignore[valid-type]
Direction = Literal["increase", "decrease", "either"]


class NumericValue(Strict):
    """A length or number moved by a magnitude: |new - old| in `unit` (em: × the font size)."""

    kind: Literal["numeric"]
    unit: Literal["px", "em", "number", "deg"] = "px"
    direction: Direction = "either"
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = Field(None, gt=0, description="New values are whole multiples of it "
                               "(a border is drawn in whole pixels: half a pixel more may draw "
                               "nothing).")
    keywords: dict[str, float] = Field(
        default_factory=dict, description="Values of keywords in `unit`, e.g. {normal: 1.2}.")


class StepsValue(Strict):
    """An ordered scale of values; the magnitude is the number of steps moved."""

    kind: Literal["steps"]
    values: list[str] = Field(min_length=2)
    direction: Direction = "either"


class ColorValue(Strict):
    """A colour moved by a perceptual distance; the magnitude is CIEDE2000."""

    kind: Literal["color"]


class TextValue(Strict):
    """Words of the element's text replaced; the magnitude is the character edit distance."""

    kind: Literal["text"]


class KeywordValue(Strict):
    """Another keyword from a list (e.g. text-align left → center); the operator measures its
    magnitude by element area."""

    kind: Literal["keyword"]
    values: list[str] = Field(min_length=1)


class PageImageValue(Strict):
    """Another image of the same page (substitution); magnitude by element area."""

    kind: Literal["page_image"]


class NoValue(Strict):
    """Structural edits with no value (remove, duplicate, swap); magnitude by element area."""

    kind: Literal["none"]
    label: str = Field(description="What the element becomes, e.g. 'removed'.")


ValueRule = Annotated[
    NumericValue | StepsValue | ColorValue | TextValue | KeywordValue | PageImageValue
    | NoValue,
    Field(discriminator="kind"),
]

TEMPLATE_FIELDS = {"element", "old", "new", "old_name", "new_name", "old_color", "new_color",
                   "phrase", "property", "magnitude", "unit", "direction", "contents"}
MAGNITUDE_UNITS = {"steps": "steps", "color": "ΔE2000", "text": "characters"}
AREA_UNIT = "% of viewport"
VisibilityMeasure = Literal["visible_px", "edge_shift"]
# What a change of each value rule is seen by, and the least of it a person notices: pixels
# whose colour visibly moved (a ΔE change, something drawn or gone), or px the painted edges
# moved (a length or an angle). An operator's `visibility` overrides either.
DEFAULT_VISIBILITY: dict[str, tuple[VisibilityMeasure, float]] = {
    "color": ("visible_px", 100), "steps": ("visible_px", 60), "text": ("visible_px", 60),
    "keyword": ("visible_px", 80), "page_image": ("visible_px", 100),
    "none": ("visible_px", 100),
    "numeric": ("edge_shift", 3.0), "numeric:number": ("visible_px", 100),
}


class VisibilityRule(Strict):
    """How visible the operator's change must measure to be kept, and the tiers it gives."""

    measure: VisibilityMeasure | None = Field(
        None, description="visible_px or edge_shift; default by the value rule.")
    floor: float | None = Field(None, ge=0, description="Pairs measuring less are rejected as "
                                "`invisible`; default by the value rule.")
    bounds: tuple[float, float] | None = Field(
        None, description="Measured visibility where medium and easy begin (hard: from the "
        "floor up to the first); null: tier by magnitude (`tiers`). Set with `spotdiff "
        "calibrate`.")
    preview: Literal["blend"] | None = Field(
        None, description="At a split's cell, measure the change on the first frame before "
        "drawing it (blend: the element at its new opacity over the plain colour around it), "
        "and draw it only if it can measure up to the floor.")


class ClassSwapRule(Strict):
    """The operator's change made the way sites make it: a utility class of the page's own
    stylesheets swapped for another of its scale (`fw-semibold` → `fw-bold`)."""

    properties: list[str] = Field(min_length=1, description="A utility class qualifies when it "
                                  "sets one of these properties (the first one present counts).")
    companions: list[str] = Field(default_factory=list, description="Properties such a class may "
                                  "set along with it, e.g. the line height of a font-size class.")
    radius: bool = Field(False, description="The values are corner radii, measured as the "
                         "corner drawn: none paints past half the box's shorter side "
                         "(`rounded-pill`), a percentage is read on a square box.")


class Eligibility(Strict):
    requires: list[Flag] = Field(default_factory=list)
    requires_any: list[Flag] = Field(default_factory=list, description="At least one of these "
                                     "flags, e.g. [paint, image] for what a corner radius clips.")
    excludes: list[Flag] = Field(default_factory=list)
    tags: list[str] | None = None
    exclude_tags: list[str] = Field(default_factory=list)
    min_width: int = 0
    min_height: int = 0
    styles: dict[str, str] = Field(
        default_factory=dict, description="computed property → regular expression it must match")


class OperatorSpec(Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    family: str
    description: str = ""
    mechanism: Mechanism
    property: str = Field(description="CSS property (or attribute) the change is made to.")
    label: str = Field(description="How the property is named in English, e.g. 'font size'.")
    value: ValueRule
    read: str | None = Field(None, description="Computed property the current value is read "
                             "from, when not `property` (e.g. a gradient from background-color).")
    format: str = Field("{value}", description="How the derived value is written to the page.")
    magnitude: Literal["value", "area"] = Field(
        "value", description="Tiers measure the value change, or the element's share of the "
        "viewport (structural and keyword changes).")
    spread: float = Field(0.0, ge=0, description="px per unit of magnitude the change paints "
                          "outside the element's box (a shadow); the gate's box grows by it.")
    layout: Literal["unchanged", "changed", "only"] = Field(
        "changed", description="How the change shows in the page's layout. `unchanged`: "
        "nothing moves (colour, opacity, transforms); `changed`: boxes can move (font size), so "
        "a split cell's try has its layout read before it is drawn, and one that moves other "
        "content is not drawn; `only`: it shows through layout alone (line height, padding, "
        "alignment), so one that moves nothing drawn has no effect either.")
    tiers: dict[Tier, tuple[float, float]]
    tier_areas: dict[Tier, tuple[float, float]] | None = Field(
        None, description="The element's share of the viewport (%) each tier admits, for "
        "operators tiered by value: how visible a change is depends on both its size and the "
        "element's, so an easy tier can ask for a large element and a hard one for a small one.")
    visibility: VisibilityRule = Field(default_factory=VisibilityRule)
    applies_to: Eligibility = Field(default_factory=Eligibility)
    phrases: dict[str, str] = Field(default_factory=dict,
                                    description="direction → English phrase for the template")
    directions: dict[str, str] = Field(
        default_factory=dict, description="direction → the name ground truth gives it, e.g. "
        "{increase: moved-right}")
    template: str
    class_swap: ClassSwapRule | None = Field(
        None, description="Offer a class-swap twin on pages whose utility classes set the "
        "property; same value rule, tiers and gate as the inline change.")

    @field_validator("value")
    @classmethod
    def _value_fits_mechanism(cls, value: ValueRule, info: ValidationInfo) -> ValueRule:
        mechanism = info.data.get("mechanism")  # absent when it failed validation itself
        if mechanism is not None:
            _check_value_kind(mechanism, TABLE.mechanisms[mechanism], value)
        return value

    @field_validator("class_swap")
    @classmethod
    def _twin_fits(cls, rule: ClassSwapRule | None,
                   info: ValidationInfo) -> ClassSwapRule | None:
        twin = TABLE.mechanisms["class_swap"]
        if rule is None:
            return rule
        if info.data.get("mechanism") != twin.twin_of:
            raise ValueError(f"class_swap is the twin of a `{twin.twin_of}` change")
        if "value" in info.data:
            _check_value_kind("class_swap", twin, info.data["value"])
        return rule

    @model_validator(mode="after")
    def _check(self) -> OperatorSpec:
        missing = [t for t in TIERS if t not in self.tiers]
        if missing:
            raise ValueError(f"tiers must define {', '.join(missing)}")
        fields = {f for _, f, _, _ in Formatter().parse(self.template) if f}
        unknown = fields - TEMPLATE_FIELDS
        if unknown:
            raise ValueError(f"template uses unknown field(s) {sorted(unknown)}; "
                             f"known: {sorted(TEMPLATE_FIELDS)}")
        if "{value}" not in self.format:
            raise ValueError("format must contain {value}")
        if self.magnitude == "value" and isinstance(
                self.value, KeywordValue | PageImageValue | NoValue):
            raise ValueError(f"value kind '{self.value.kind}' has no magnitude: "
                             "set `magnitude: area`")
        for key, ranges in (("tiers", self.tiers), ("tier_areas", self.tier_areas or {})):
            for tier, (lo, hi) in ranges.items():
                if lo > hi or lo < 0:
                    raise ValueError(f"{key} {tier} range [{lo}, {hi}] is not 0 <= low <= high")
        if self.tier_areas is not None:
            if self.magnitude == "area":
                raise ValueError("tier_areas is for operators tiered by value; with "
                                 "`magnitude: area` the tiers are areas already")
            missing = [t for t in TIERS if t not in self.tier_areas]
            if missing:
                raise ValueError(f"tier_areas must define {', '.join(missing)}")
            _check_no_area_gap(self.tier_areas)
        kind = self.value.kind
        if isinstance(self.value, NumericValue) and self.value.unit == "number":
            kind = "numeric:number"
        measure, floor = DEFAULT_VISIBILITY[kind]
        rule = self.visibility
        rule.measure = rule.measure or measure
        rule.floor = rule.floor if rule.floor is not None else floor
        if rule.bounds is not None and not rule.floor < rule.bounds[0] <= rule.bounds[1]:
            raise ValueError(f"visibility bounds {list(rule.bounds)} must be ascending and "
                             f"above the floor {rule.floor:g} (hard lies between them)")
        return self

    def visibility_tier(self, visibility: float) -> str | None:
        """The tier a change measuring `visibility` falls in: hard from the floor up to the
        first bound, medium up to the second, easy above; None without calibrated bounds."""
        bounds = self.visibility.bounds
        if bounds is None:
            return None
        return "hard" if visibility < bounds[0] else "medium" if visibility < bounds[1] else "easy"

    @builtins.property  # the field `property` shadows the builtin in this class body
    def magnitude_unit(self) -> str:
        if self.magnitude == "area":
            return AREA_UNIT
        if isinstance(self.value, NumericValue):
            return self.value.unit
        return MAGNITUDE_UNITS[self.value.kind]

    def tiers_for_area(self, area: float) -> list[str]:
        """The tiers an element covering `area` % of the viewport can be changed in: those
        `tier_areas` admit it to, or, for an operator tiered by area, the one its area is in."""
        ranges = self.tiers if self.magnitude == "area" else self.tier_areas
        if ranges is None:
            return list(TIERS)
        return [t for t in TIERS if _within(area, ranges[t])]

    def tier_of(self, magnitude: float, area: float | None = None) -> str | None:
        """The tier whose range holds `magnitude` and, when the tiers bound it, whose area range
        holds the element's `area` (tiers are tried easy → hard)."""
        admitted = self.tiers_for_area(area) if area is not None else TIERS
        for tier in admitted:
            if _within(magnitude, self.tiers[tier]):
                return tier
        return None


def _check_value_kind(name: str, mechanism: MechanismSpec, value: ValueRule) -> None:
    if value.kind not in mechanism.values:
        raise ValueError(f"mechanism '{name}' cannot use a '{value.kind}' value; it takes "
                         f"{', '.join(mechanism.values)} (spotdiff/renderer/mechanisms.yaml)")


def _check_no_area_gap(tier_areas: dict[Tier, tuple[float, float]]) -> None:
    """Elements between the smallest and largest area a tier admits can each go in some tier;
    a gap would leave those sizes unchangeable with nothing said."""
    reach = None
    for lo, hi in sorted(tier_areas.values()):
        if reach is not None and lo > reach + 1e-9:
            raise ValueError(f"tier_areas leave elements of {reach:g}–{lo:g} % of the viewport "
                             "in no tier; let the ranges meet or overlap")
        reach = hi if reach is None else max(reach, hi)


def _within(value: float, bounds: tuple[float, float]) -> bool:
    return bounds[0] - 1e-9 <= value <= bounds[1] + 1e-9


def _yaml_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml"))
    if path.exists():
        return [path]
    raise ConfigError(f"{path}: operator file or directory does not exist")


def load_catalogue(paths: list[Path]) -> dict[str, OperatorSpec]:
    """Every operator declared in the YAML files (or directories of them), by name."""
    catalogue: dict[str, OperatorSpec] = {}
    for file in (f for p in paths for f in _yaml_files(p)):
        data = read_yaml(file)
        entries = data.get("operators") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise ConfigError(f"{file}: key 'operators': expected a list of operator entries")
        for i, entry in enumerate(entries):
            name = entry.get("name", i) if isinstance(entry, dict) else i
            spec = validate(OperatorSpec, entry, file, prefix=f"operators[{name}]")
            if spec.name in catalogue:
                raise ConfigError(f"{file}: key 'operators.{spec.name}': declared twice")
            catalogue[spec.name] = spec
    if not catalogue:
        raise ConfigError(f"no operators declared in {', '.join(map(str, paths))}")
    return catalogue
