"""Accept or reject a tried pair from what was measured of it; every rejection has a reason.

A try measures in stages (apply the mutations, screenshot, pixel diff, visibility, embedding
distance) and stops early once a stage shows a rejection; `verdict` reads every measure taken
so far and checks them in that order, so the first failing check names the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from spotdiff.config import GateConfig
from spotdiff.records import Box, LayoutProbe, boxes_overlap

MOVED_PX = 0.01  # another element moved: its antialiased edges repaint even below a pixel
DRAWN_PX = 0.01  # the element's box or text moved at least this far: its pixels may change
# a drawn edge measures up to about a pixel further than its layout moved it (rounding to device
# pixels, antialiasing): a change moving its drawn content less than the floor by more than
# this is measured under it
EDGE_SLACK_PX = 1.0
PREVIEW_ERROR = 0.05  # a measure previewed on the first frame is this near the drawn one (1-3%)


@dataclass(frozen=True)
class Placed:
    """What applying one mutation measured of the page."""

    mechanism: str
    failed: bool = False  # the page script could not apply it
    shows_value: bool = True  # the browser computes the value ground truth states
    resolves: bool = True  # its selector still finds the element afterwards

    @property
    def as_planned(self) -> bool:
        return not self.failed and self.shows_value


@dataclass(frozen=True)
class Measures:
    """Everything the gate decides on; a measure the try did not get to is empty or None."""

    placed: tuple[Placed, ...] = ()  # one per mutation applied, in order
    boxes: tuple[Box, ...] = ()  # each target's before ∪ after region, grown by its spread
    pixel_diff: float | None = None  # changed fraction of the frame,
    target_diff: float | None = None  # of the targets' boxes,
    outside_diff: float | None = None  # outside them (reflow contamination),
    min_target_diff: float | None = None  # of the least-changed target
    visibility: tuple[tuple[float, float], ...] = ()  # each mutation's (measured, floor)
    clip_distance: float | None = None  # embedding distance, 1 - cosine

    @property
    def as_planned(self) -> bool:
        """Every mutation is on the page as ground truth states it: worth a screenshot."""
        return all(p.as_planned for p in self.placed)


def verdict(m: Measures, cfg: GateConfig) -> str | None:
    """None when every measure taken passes, else the first failing check's reason."""
    for placed in m.placed:
        if placed.failed:
            return "apply_failed"
        if not placed.shows_value:
            return f"{placed.mechanism}_overridden"  # the page shows another value
    if not all(p.resolves for p in m.placed):
        return "selector_lost"
    if any(boxes_overlap(a, b) for i, a in enumerate(m.boxes) for b in m.boxes[i + 1:]):
        return "targets_overlap"  # e.g. a DOM edit's parent region covers another target
    return _pixels(m, cfg) or _embedding(m, cfg)


def _pixels(m: Measures, cfg: GateConfig) -> str | None:
    if m.min_target_diff is not None and (
            m.min_target_diff <= 0 or m.min_target_diff < cfg.min_target_diff):
        return "no_effect"
    if m.outside_diff is not None and m.outside_diff > cfg.max_outside_diff:
        return "contaminated"
    if any(value < floor for value, floor in m.visibility):
        return "invisible"
    if (cfg.change_area and m.pixel_diff is not None
            and not cfg.change_area[0] <= m.pixel_diff <= cfg.change_area[1]):
        return "change_area"
    return None


def _embedding(m: Measures, cfg: GateConfig) -> str | None:
    if (cfg.clip_distance and m.clip_distance is not None
            and not cfg.clip_distance[0] <= m.clip_distance <= cfg.clip_distance[1]):
        return "clip_distance"
    return None


@dataclass(frozen=True)
class Probed:
    """One mutation's layout probe, with what decides whether its change can show."""

    layout: LayoutProbe
    layout_only: bool  # the operator's change shows only through layout (line height, padding)
    painted: bool  # the element paints its box (a background, border or shadow)
    # the least edge shift (px) the gate keeps, when the change is measured by its edges' shift
    edge_floor: float | None = None

    @property
    def drawn_shift(self) -> float:
        """How far the content the element draws moves: its text, and its box if painted."""
        return max(self.layout.text_shift, self.layout.box_shift if self.painted else 0.0)

    @property
    def moves_nothing_drawn(self) -> bool:
        return self.drawn_shift < DRAWN_PX

    @property
    def under_floor(self) -> bool:
        """A layout-only change whose edges cannot measure up to the floor."""
        return (self.layout_only and self.edge_floor is not None
                and self.drawn_shift + EDGE_SLACK_PX < self.edge_floor)


def foreseen(probes: Sequence[Probed]) -> str | None:
    """The rejection a try's layout already shows before it is drawn; None: draw it."""
    if any(p.layout.others_shift > MOVED_PX for p in probes):
        return "contaminated"  # content outside the target moves
    if any((p.layout_only or p.layout.glyphs_change is False) and p.moves_nothing_drawn
           for p in probes):
        return "no_effect"  # it shows only by moving what it draws, and moves nothing
    if any(p.under_floor for p in probes):
        return "invisible"
    return None


def faint(previewed: Sequence[tuple[float, float]]) -> str | None:
    """"invisible" when a change's previewed measure, (value, floor) for each, is under its
    floor by more than the preview's error; None: draw it."""
    if any(value * (1 + PREVIEW_ERROR) < floor for value, floor in previewed):
        return "invisible"
    return None


def wants_clip_distance(m: Measures, cfg: GateConfig) -> bool:
    """Whether the embedding distance is worth computing: the gate bounds it and every other
    measure passes."""
    return cfg.clip_distance is not None and verdict(m, cfg) is None
