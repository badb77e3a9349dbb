"""Which accepted pairs make the dataset: a quota table of operator × tier cells, filled across
pages so that no page gives more than its share and no domain dominates.

Selection reads only the finished units' results, in unit order, so it gives the same rows
however the units were scheduled, interrupted or resumed.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, field_validator

from spotdiff.config import BUNDLED_CONFIGS, Strict, read_yaml, validate
from spotdiff.records import TIERS, Tier

ANY = "*"
Cell = tuple[str, str]  # (operator, tier); ANY matches every operator or tier
SPLITS_DIR = BUNDLED_CONFIGS / "splits"


class SplitConfig(Strict):
    quota_per_cell: int = Field(100, ge=0)
    operators: list[str] | None = Field(None, description="None: every catalogue operator.")
    tiers: list[Tier] = Field(default_factory=lambda: list(TIERS))
    cells: dict[str, dict[Tier, int]] = Field(
        default_factory=dict, description="operator → tier → quota, overriding quota_per_cell")
    no_diff: int = Field(100, ge=0)
    max_pairs_per_page: int = Field(1, ge=1, description="DiffSpot: every pair from its own URL.")
    max_domain_share: float | None = Field(0.15, gt=0, le=1)
    mechanisms: dict[str, float] | None = Field(
        None, description="Share of the pairs each mechanism makes (ground-truth names, e.g. "
        "{inline: 0.5, class_swap: 0.5}); pages try only these mechanisms, in these shares.")

    @field_validator("mechanisms")
    @classmethod
    def _shares(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value and (any(not 0 <= v <= 1 for v in value.values())
                      or sum(value.values()) > 1 + 1e-9):
            raise ValueError("shares must be between 0 and 1 and add up to at most 1")
        return value


def split_config_path(name: str) -> Path | None:
    """`--split NAME` names configs/splits/NAME.yaml, or is a path to a split file itself."""
    for path in (Path(name), SPLITS_DIR / f"{name}.yaml"):
        if path.suffix in (".yaml", ".yml") and path.is_file():
            return path
    return None


def load_split(path: Path) -> SplitConfig:
    return validate(SplitConfig, read_yaml(path), path)


@dataclass(frozen=True)
class Quota:
    cells: dict[Cell, int]
    max_per_page: int
    max_domain_share: float | None = None
    mechanisms: dict[str, float] | None = None  # share of the pairs per mechanism

    @classmethod
    def total_pairs(cls, pairs: int, max_per_page: int) -> Quota:
        return cls({(ANY, ANY): pairs}, max_per_page)

    @classmethod
    def from_split(cls, split: SplitConfig, operators: Sequence[str]) -> Quota:
        names = split.operators if split.operators is not None else sorted(operators)
        cells = {(op, tier): split.cells.get(op, {}).get(tier, split.quota_per_cell)
                 for op in names for tier in split.tiers}
        return cls(cells, split.max_pairs_per_page, split.max_domain_share, split.mechanisms)

    @property
    def total(self) -> int:
        return sum(self.cells.values())

    def operators(self, names: Sequence[str]) -> list[str]:
        """The operators of `names` some cell wants: pages try no others."""
        wanted = {op for (op, _), n in self.cells.items() if n > 0}
        return list(names) if ANY in wanted else [name for name in names if name in wanted]

    def tiers(self) -> tuple[str, ...]:
        """The tiers some cell wants: pages draw no others."""
        wanted = {tier for (_, tier), n in self.cells.items() if n > 0}
        return TIERS if ANY in wanted else tuple(t for t in TIERS if t in wanted)

    def mechanism_wanted(self) -> dict[str, int]:
        """Pairs wanted per mechanism: its share of the quota's total."""
        return {m: math.ceil(share * self.total) for m, share in (self.mechanisms or {}).items()}

    def cell_of(self, operator: str, tier: str) -> Cell | None:
        for cell in ((operator, tier), (operator, ANY), (ANY, tier), (ANY, ANY)):
            if cell in self.cells:
                return cell
        return None

    @property
    def targeted(self) -> bool:
        """Cells of named operators or tiers, which pages are planned to aim at; `--pairs N`
        (one cell of anything) is not."""
        return set(self.cells) != {(ANY, ANY)}

    def domain_cap(self) -> float:
        """Rows one domain category may hold."""
        return (math.ceil(self.max_domain_share * self.total) if self.max_domain_share
                else math.inf)


def matches(cell: Cell, operator: str, tier: str) -> bool:
    return cell[0] in (ANY, operator) and cell[1] in (ANY, tier)


@dataclass(frozen=True)
class PagePlan:
    """What one page tries, fixed before it loads: the cells in `cells` in turn — at most
    `first_tries` candidates at the first (the cell it was dealt), `tries_per_cell` at each
    other, `tries` in all — until it holds `pairs` accepted pairs in those cells. A page whose
    category is in `closed` (already at the domain cap) tries nothing."""

    cells: tuple[Cell, ...]
    pairs: int
    tries: int
    tries_per_cell: int
    closed: frozenset[str] = frozenset()
    first_tries: int = 0  # 0: tries_per_cell

    def tries_at(self, position: int) -> int:
        return self.first_tries if position == 0 and self.first_tries else self.tries_per_cell


def select(rows: Sequence[Sequence[Cell]], domains: Sequence[str], quota: Quota,
           mechanisms: Sequence[Sequence[str]] | None = None) -> list[list[int]]:
    """For each unit, the indices of its rows to keep. Units take turns, one pair a round; each
    takes the row whose cell is furthest from full, within the domain cap. With a mechanism
    mix, `mechanisms` names each row's mechanism: a mechanism's rows stop at its share, and the
    mechanism furthest from its share goes first (a page offers the rarer mechanism seldom),
    then the cell furthest from full."""
    remaining = dict(quota.cells)
    wanted_mech = quota.mechanism_wanted()
    mech_left = dict(wanted_mech)
    cap = quota.domain_cap()
    per_domain: Counter[str] = Counter()
    chosen: list[list[int]] = [[] for _ in rows]
    for _ in range(quota.max_per_page):
        for u, unit_rows in enumerate(rows):
            if per_domain[domains[u]] >= cap:
                continue
            best = None
            for i, (op, tier) in enumerate(unit_rows):
                cell = quota.cell_of(op, tier)
                if i in chosen[u] or cell is None or remaining[cell] <= 0:
                    continue
                mech = mechanisms[u][i] if mechanisms is not None and mech_left else ""
                if mech_left and mech_left.get(mech, 0) <= 0:
                    continue
                key = (mech_left.get(mech, 0) / max(1, wanted_mech.get(mech, 1)), remaining[cell])
                if best is None or key > best[2]:
                    best = (i, cell, key, mech)
            if best is not None:
                chosen[u].append(best[0])
                remaining[best[1]] -= 1
                per_domain[domains[u]] += 1
                if best[3]:
                    mech_left[best[3]] -= 1
    return [sorted(c) for c in chosen]


def settled(quota: Quota, units: int, position: int, rows: int) -> int:
    """How many of the first rows of the unit at `position` (of `units`) selection keeps
    whatever the other units give. For a quota of anything without a domain cap, a unit's row r
    is taken in round r unless the rows taken before it — at most one per unit in each earlier
    round and one per earlier unit in this round — already fill the quota."""
    if quota.targeted or quota.max_domain_share:
        return 0
    return sum(r * units + position < quota.total for r in range(min(rows, quota.max_per_page)))


def fill_table(rows: Sequence[Sequence[Cell]], chosen: Sequence[Sequence[int]],
               quota: Quota) -> dict[str, dict[str, list[int]]]:
    """operator → tier → [selected, wanted, accepted before selection]."""
    table: dict[str, dict[str, list[int]]] = {}
    for (op, tier), wanted in quota.cells.items():
        table.setdefault(op, {})[tier] = [0, wanted, 0]
    for unit_rows, picks in zip(rows, chosen, strict=True):
        for i, (op, tier) in enumerate(unit_rows):
            cell = quota.cell_of(op, tier)
            if cell is None:
                continue
            entry = table[cell[0]][cell[1]]
            entry[2] += 1
            entry[0] += i in picks
    return table


def mechanism_fill(mechanisms: Sequence[Sequence[str]], chosen: Sequence[Sequence[int]],
                   quota: Quota) -> dict[str, list[int]]:
    """mechanism → [selected, wanted, accepted before selection], for a split's mechanism mix."""
    table = {m: [0, wanted, 0] for m, wanted in quota.mechanism_wanted().items()}
    for unit_mechs, picks in zip(mechanisms, chosen, strict=True):
        for i, mech in enumerate(unit_mechs):
            if mech in table:
                table[mech][2] += 1
                table[mech][0] += i in picks
    return table
