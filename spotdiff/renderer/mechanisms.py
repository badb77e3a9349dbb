"""The mechanism and element-flag table (`mechanisms.yaml`), declared once for both languages:
Python validates operators and names ground truth from it, the page script receives it at load."""

from __future__ import annotations

from importlib.resources import files
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, model_validator

TABLE_FILE = files("spotdiff.renderer") / "mechanisms.yaml"


class MechanismSpec(BaseModel):
    """One way of changing a page (see mechanisms.yaml for what each key means)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ground_truth: str
    reloads: bool = False
    region: Literal["element", "parent"] = "element"
    values: tuple[str, ...]
    twin_of: str | None = None

    @property
    def in_place(self) -> bool:
        """It changes the element where it stands: its layout can be read before a frame."""
        return self.region == "element" and not self.reloads


class MechanismTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mechanisms: dict[str, MechanismSpec]
    flags: dict[str, str]  # name → what it says of an element

    @model_validator(mode="after")
    def _twins_exist(self) -> MechanismTable:
        for name, spec in self.mechanisms.items():
            if spec.twin_of is not None and spec.twin_of not in self.mechanisms:
                raise ValueError(f"mechanism '{name}': twin_of '{spec.twin_of}' is not declared")
        return self

    @property
    def declared(self) -> tuple[str, ...]:
        """The mechanisms an operator may name (the others are twins the planner offers)."""
        return tuple(n for n, m in self.mechanisms.items() if m.twin_of is None)


TABLE = MechanismTable.model_validate(yaml.safe_load(TABLE_FILE.read_text(encoding="utf-8")))
RELOADING_MECHANISMS = frozenset(n for n, m in TABLE.mechanisms.items() if m.reloads)


def mechanism_name(mechanism: str) -> str:
    """The ground-truth name of a mechanism (`inline`, `class_swap`, `text`, `dom`, …)."""
    return TABLE.mechanisms[mechanism].ground_truth


def script_table() -> dict[str, object]:
    """What the page script reads of the table: each mechanism's region and the flag names."""
    return {"mechanisms": {n: {"region": m.region} for n, m in TABLE.mechanisms.items()},
            "flags": list(TABLE.flags)}
