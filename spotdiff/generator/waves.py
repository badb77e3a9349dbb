"""Which pages run next and what each one tries.

Pages are taken in a seeded order, in waves. A split's first wave deals its pages to the cells of
the quota table; every later wave is planned from the finished units of the waves before it —
which cells are still short, which categories are at the domain cap, how often pages dealt to a
cell gave it — never from timing, so a resumed run plans exactly the same waves and units.
Pages that no wave needs are never loaded.
"""

from __future__ import annotations

import math
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from spotdiff.generator.page_job import PageUnit
from spotdiff.generator.selection import ANY, Cell, PagePlan, Quota, matches, select
from spotdiff.records import Page

MIN_WAVE = 4  # pages; a fixed number, so that waves never depend on --workers
FIRST_WAVE = 0.6  # share of the pages the quota needs that the first wave deals, the rest
# being dealt by what the first pages showed of each cell
MIN_SUCCESS = 0.25  # the lowest share of its pages a cell is expected to get a pair from
PRIOR_PAGES = 2  # how many pages' worth the overall success rate weighs in a cell's estimate
MAX_WAVE = 1.5  # a wave deals at most this many pages per pair still wanted, so that later
# waves, knowing more, deal the rest
GIVE_UP_AFTER = 6  # pages that tried a cell without one giving it: no further page is dealt it
# pages dealt a cell in all, counting those with no element its operator applies to, without
# one giving it (most pages have no bordered box, say: they say little about the pages that do)
GIVE_UP_DEALT = 3 * GIVE_UP_AFTER
TRIES_PER_PAIR = 16  # candidates the pages dealt a cell may try per pair it wants; past them
# it is given up (the hardest cells cost most of a split's tries for few of its pairs)
MAX_FIRST_TRIES = 6  # candidates a page tries at the cell it was dealt, for the hardest cells


@dataclass(frozen=True)
class Outcome:
    """What planning and selection need of a finished unit (read from its marker)."""

    cells: list[Cell]  # (operator, tier) of each accepted pair, in the part's order
    category: str | None  # None: the page did not load
    controls: int  # no-diff controls made
    tried: dict[Cell, tuple[int, int]]  # candidates tried and accepted per (operator, tier)
    mechanisms: list[str] = field(default_factory=list)  # of each accepted pair, as `cells`


def page_order(pages: Sequence[Page], seed: int) -> list[int]:
    """Indices of `pages` in a seeded order, each page identity once."""
    first: dict[str, int] = {}
    for i, page in enumerate(pages):
        first.setdefault(page.identity, i)
    return sorted(first.values(),
                  key=lambda i: zlib.crc32(f"{seed}|{pages[i].identity}".encode()))


@dataclass
class Need:
    """What the finished units leave to do."""

    cells: dict[Cell, int]  # still short: cell → pairs wanted
    controls: int
    closed: frozenset[str]  # categories at the domain cap
    success: dict[Cell, float]  # share of the pages dealt a cell that gave it
    first_tries: dict[Cell, int]  # candidates a page dealt the cell tries at it
    exhausted: dict[Cell, str]  # cells no page is dealt any more → why
    mechanisms: dict[str, float] | None = None  # a mix's short mechanisms, their shares to 1


class Waves:
    def __init__(self, pages: Sequence[Page], quota: Quota, no_diff: int, seed: int,
                 unit_quota: int, tries_per_page: int, tries_per_cell: int) -> None:
        self.pages = pages
        self.quota = quota
        self.no_diff = no_diff
        self.unit_quota = unit_quota
        self.tries_per_page = tries_per_page
        self.tries_per_cell = tries_per_cell
        self.order = page_order(pages, seed)
        self.pos = 0  # pages of the order already planned (or passed over)
        self.units: list[PageUnit] = []  # every unit planned so far, in wave order
        self.count = 0  # waves planned
        self.need_now: Need | None = None  # what the last planned wave was planned from
        # one pair per page: controls come from pages of their own, so no URL gives two rows
        self.separate_controls = quota.max_per_page == 1

    def next(self, outcomes: dict[int, Outcome]) -> list[PageUnit]:
        """The next wave's units (empty when the run is done); `outcomes` holds every unit
        planned so far."""
        if not self.quota.targeted:
            wave = self._everything() if not self.units else []
            self.count += bool(wave)
            return wave
        need = self.need_now = self.need(outcomes)
        wave: list[PageUnit] = []
        if self.separate_controls:
            wave += [PageUnit(i, self.pages[i], PagePlan((), 0, 0, 0), 1)
                     for i in self._take(need.controls, need.closed, controls=True)]
        slots = self._slots(need)
        pairs = self.quota.max_per_page
        wanted = sum(need.cells.values()) / pairs
        count = math.ceil(min(len(slots) / pairs, MAX_WAVE * wanted)
                          * (FIRST_WAVE if not self.units else 1.0))
        visual = self._take(max(MIN_WAVE, count) if slots else 0, need.closed)
        controls = Counter() if self.separate_controls or self.units else Counter(
            visual[k % len(visual)] for k in range(self.no_diff if visual else 0))
        for j, i in enumerate(visual):
            start = (j * pairs) % len(slots)
            cells = tuple(dict.fromkeys(slots[start:] + slots[:start]))
            first = need.first_tries[cells[0]]
            tries = min(self.tries_per_page, first + (2 * pairs - 1) * self.tries_per_cell)
            plan = PagePlan(cells, pairs, tries, self.tries_per_cell, need.closed, first,
                            need.mechanisms)
            wave.append(PageUnit(i, self.pages[i], plan, controls[i]))
        self.units += wave
        self.count += bool(wave)
        return wave

    def _everything(self) -> list[PageUnit]:
        """`--pairs N`: every page at once, each asked for `unit_quota` pairs of anything; the
        controls go to pages of the seeded order."""
        order = self.order
        controls = Counter(order[k % len(order)] for k in range(self.no_diff)) if order else {}
        plan = PagePlan(((ANY, ANY),), self.unit_quota, self.tries_per_page, self.tries_per_page)
        self.units = [PageUnit(i, self.pages[i], plan, controls.get(i, 0)) for i in order]
        self.pos = len(order)
        return self.units

    def _take(self, count: int, closed: frozenset[str], controls: bool = False) -> list[int]:
        """The next `count` pages of the order, passing over pages whose known category is
        closed (they could give no row the cap allows)."""
        taken: list[int] = []
        while len(taken) < count and self.pos < len(self.order):
            i = self.order[self.pos]
            self.pos += 1
            if controls or self.pages[i].domain not in closed:
                taken.append(i)
        return taken

    def need(self, outcomes: dict[int, Outcome]) -> Need:
        finished = [(u, outcomes[u.index]) for u in self.units]
        rows = [o.cells for _, o in finished]
        domains = [o.category or u.page.domain or "" for u, o in finished]
        mix = self.quota.mechanisms
        chosen = select(rows, domains, self.quota,
                        [o.mechanisms for _, o in finished] if mix else None)
        remaining = dict(self.quota.cells)
        per_domain: Counter[str] = Counter()
        mech_left = dict(self.quota.mechanism_wanted())
        for (_, outcome), picks, domain in zip(finished, chosen, domains, strict=True):
            for i in picks:
                remaining[self.quota.cell_of(*outcome.cells[i])] -= 1
                per_domain[domain] += 1
                if mix:
                    mech_left[outcome.mechanisms[i]] -= 1
        # once a mechanism of the mix holds its share, pages try only the ones still short
        short = {m: mix[m] for m, n in mech_left.items() if n > 0} if mix else None
        mechanisms = ({m: s / sum(short.values()) for m, s in short.items()}
                      if short and len(short) < len(mix or {}) else None)
        cap = self.quota.domain_cap()
        dealt: Counter[Cell] = Counter()
        gave: Counter[Cell] = Counter()
        tried_it: Counter[Cell] = Counter()  # pages dealt the cell that tried its operator
        spent: Counter[Cell] = Counter()  # candidates tried on the pages dealt the cell
        for unit, outcome in finished:
            if unit.plan.cells:
                primary = unit.plan.cells[0]
                dealt[primary] += 1
                gave[primary] += any(matches(primary, *c) for c in outcome.cells)
                tried_it[primary] += any(n for (op, _), (n, _) in outcome.tried.items()
                                         if op == primary[0])
                spent[primary] += sum(n for n, _ in outcome.tried.values())
        pages_dealt = sum(dealt.values())
        overall = sum(gave.values()) / pages_dealt if pages_dealt else 1.0
        # a cell's own record, drawn towards the overall rate while it is short (one page that
        # failed says little)
        success = {c: max(MIN_SUCCESS, (gave[c] + PRIOR_PAGES * overall) /
                          (dealt[c] + PRIOR_PAGES)) for c in self.quota.cells}
        exhausted = {c: f"given up: none of the {dealt[c]} pages dealt it gave it "
                        f"({tried_it[c]} tried it)"
                     for c in self.quota.cells if not gave[c] and (
                         tried_it[c] >= GIVE_UP_AFTER or dealt[c] >= GIVE_UP_DEALT)}
        for c, wanted in self.quota.cells.items():
            if c not in exhausted and spent[c] >= TRIES_PER_PAIR * wanted:
                exhausted[c] = (f"given up: the pages dealt it tried {spent[c]} candidates, "
                                f"{TRIES_PER_PAIR} a pair it asks for")
        tried: Counter[Cell] = Counter()
        accepted: Counter[Cell] = Counter()
        for _, o in finished:
            for (op, tier), (n, ok) in o.tried.items():
                cell = self.quota.cell_of(op, tier)
                if cell is not None:
                    tried[cell] += n
                    accepted[cell] += ok
        # a cell whose tries are mostly rejected gets more of them on each page dealt it: a try
        # costs a fraction of a page load
        first_tries = {c: self.tries_per_cell if tried[c] < 3 else min(
            MAX_FIRST_TRIES, max(self.tries_per_cell, math.ceil(1.5 * tried[c] /
                                                                max(1, accepted[c]))))
            for c in self.quota.cells}
        return Need(
            cells={c: n for c, n in remaining.items() if n > 0 and c not in exhausted},
            controls=(max(0, self.no_diff - sum(o.controls for _, o in finished))
                      if self.separate_controls else 0),
            closed=frozenset(d for d, n in per_domain.items() if n >= cap),
            success=success, first_tries=first_tries, exhausted=exhausted,
            mechanisms=mechanisms)

    def _slots(self, need: Need) -> list[Cell]:
        """One entry per page-pair to deal, interleaved across cells, the most needed first:
        each short cell as many times as it is short, then again as many times more as its
        success rate says pages will fail it (these extras go when a wave is capped)."""
        counts = {c: math.ceil(n / need.success[c]) for c, n in need.cells.items()}
        cells = sorted(counts, key=lambda c: (-need.cells[c], c))
        slots: list[Cell] = []
        for k in range(max(counts.values(), default=0)):
            slots += [c for c in cells if need.cells[c] > k]
        for k in range(max(counts.values(), default=0)):
            slots += [c for c in cells if need.cells[c] + k < counts[c]]
        return slots

    @property
    def pages_left(self) -> int:
        return len(self.order) - self.pos
