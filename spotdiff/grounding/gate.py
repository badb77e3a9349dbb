"""Accept or reject a pair from its measures; every rejection has a reason counted in stats."""

from __future__ import annotations

from collections.abc import Sequence

from spotdiff.config import GateConfig


def verdict(metrics: dict[str, float], cfg: GateConfig,
            visibility: Sequence[tuple[float, float]] = ()) -> str | None:
    """None when the pair is accepted, else the rejection reason. `visibility` holds each
    mutation's measured visibility and its operator's floor."""
    if metrics["min_target_diff"] <= 0 or metrics["min_target_diff"] < cfg.min_target_diff:
        return "no_effect"
    if metrics["outside_diff"] > cfg.max_outside_diff:
        return "contaminated"
    if any(value < floor for value, floor in visibility):
        return "invisible"
    if cfg.change_area and not cfg.change_area[0] <= metrics["pixel_diff"] <= cfg.change_area[1]:
        return "change_area"
    return None


def clip_verdict(distance: float, cfg: GateConfig) -> str | None:
    """With `gate.clip_distance` bounds set, a pair whose embedding distance falls outside them
    is rejected as `clip_distance`."""
    if cfg.clip_distance and not cfg.clip_distance[0] <= distance <= cfg.clip_distance[1]:
        return "clip_distance"
    return None
