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

from pydantic import Field, model_validator

from spotdiff.config import ConfigError, Strict, read_yaml, validate

TIERS = ("easy", "medium", "hard")
Tier = Literal["easy", "medium", "hard"]
Flag = Literal["text", "short_text", "paint", "image", "control", "leaf", "flex", "grid"]
Direction = Literal["increase", "decrease", "either"]


class NumericValue(Strict):
    """A length or number moved by a magnitude: |new - old| in `unit` (em: × the font size)."""

    kind: Literal["numeric"]
    unit: Literal["px", "em", "number", "deg"] = "px"
    direction: Direction = "either"
    minimum: float | None = None
    maximum: float | None = None
    normal: float | None = Field(None, description="Value of the keyword 'normal' in `unit`.")


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


ValueRule = Annotated[NumericValue | StepsValue | ColorValue | TextValue,
                      Field(discriminator="kind")]

TEMPLATE_FIELDS = {"element", "old", "new", "old_name", "new_name", "phrase", "property",
                   "magnitude", "unit", "direction"}
MAGNITUDE_UNITS = {"steps": "steps", "color": "ΔE2000", "text": "characters"}


class Eligibility(Strict):
    requires: list[Flag] = Field(default_factory=list)
    excludes: list[Flag] = Field(default_factory=list)
    tags: list[str] | None = None
    exclude_tags: list[str] = Field(default_factory=list)
    min_width: int = 0
    min_height: int = 0


class OperatorSpec(Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    family: str
    description: str = ""
    mechanism: Literal["style", "text"]
    property: str = Field(description="CSS property the change is made to ('text' for text).")
    label: str = Field(description="How the property is named in English, e.g. 'font size'.")
    value: ValueRule
    tiers: dict[Tier, tuple[float, float]]
    applies_to: Eligibility = Field(default_factory=Eligibility)
    phrases: dict[str, str] = Field(default_factory=dict,
                                    description="direction → English phrase for the template")
    template: str

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
        for tier, (lo, hi) in self.tiers.items():
            if lo > hi or lo < 0:
                raise ValueError(f"tier {tier} range [{lo}, {hi}] is not 0 <= low <= high")
        return self

    @builtins.property  # the field `property` shadows the builtin in this class body
    def magnitude_unit(self) -> str:
        if isinstance(self.value, NumericValue):
            return self.value.unit
        return MAGNITUDE_UNITS[self.value.kind]

    def tier_of(self, magnitude: float) -> str | None:
        """The tier whose range holds `magnitude` (ranges are tried easy → hard)."""
        for tier in TIERS:
            lo, hi = self.tiers[tier]
            if lo - 1e-9 <= magnitude <= hi + 1e-9:
                return tier
        return None


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
