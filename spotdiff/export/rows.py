"""Pair → row: DiffSpot's columns plus spotdiff's own (url, site, language, operator)."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import urlsplit

from spotdiff.records import Box, Mutation, Pair, hardest, intersect_box, union_box
from spotdiff.renderer.mechanisms import mechanism_name


def pair_id(pair: Pair) -> str:
    if pair.task_type == "no_diff":
        key = f"no_diff|{pair.page.identity}"
    else:
        key = "|".join(f"{pair.page.identity}|{m.operator}|{m.element.selector}|"
                       f"{_within_site(m.new_value, pair.page.url)}" for m in pair.mutations)
    return hashlib.sha1(key.encode()).hexdigest()[:16]


def _within_site(value: str, page_url: str) -> str:
    """A value naming a URL of the page's own origin (another image of the page) without the
    origin: a `--site` run serves its pages on a port of its own, and ids must not follow it."""
    parts = urlsplit(page_url)
    origin = f"{parts.scheme}://{parts.netloc}/"
    return "/" + value.removeprefix(origin) if value.startswith(origin) else value


def site_of(url: str) -> str:
    """The host a page came from, with its port when the URL names one."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{host}:{parts.port}" if parts.port else host


def mutation_dict(m: Mutation, description: str, box: Box, template: str) -> dict[str, Any]:
    made_by: dict[str, Any] = {"mechanism": mechanism_name(m.mechanism)}
    if m.new_class is not None:  # a class swap; old_class None when the class was added
        made_by.update(old_class=m.old_class, new_class=m.new_class, steps=m.steps)
    if m.rule_selector:
        made_by["rule_selector"] = m.rule_selector
    return {
        "type": m.operator,
        "element": description,
        "selector": m.element.selector,
        "xpath": m.element.xpath,
        "property": m.property,
        "direction": m.direction,
        "old_value": m.old_value,
        "new_value": m.new_value,
        "magnitude": m.magnitude,
        "magnitude_range": list(m.magnitude_range) if m.magnitude_range else None,
        "visibility": ({"measure": m.visibility[0], "value": m.visibility[1]}
                       if m.visibility else None),
        "tier": m.tier,
        "bbox": list(box),
        "ink_bbox": _ink(m, box),
        "template": template,
        **made_by,
    }


def _ink(m: Mutation, box: Box) -> list[int] | None:
    """What the element paints, as listed with the page, within the box the change measured:
    the page can lay out a pixel or two differently between the listing and the try (seen once
    in CI: an 18 px tall ink on a 16 px tall box, most likely a late web font)."""
    if not m.element.ink:
        return None
    ink = intersect_box(m.element.ink, box)
    return list(ink) if ink else list(box)


def to_row(pair: Pair, templates: dict[str, str]) -> dict[str, Any]:
    row_id = pair_id(pair)
    box = pair.target_box or (-1, -1, -1, -1)
    area = union_box(pair.regions) or (-1, -1, -1, -1)
    dicts = [json.dumps(mutation_dict(m, d, b, templates[m.operator]), ensure_ascii=False)
             for m, d, b in zip(pair.mutations, pair.descriptions, pair.boxes, strict=True)]
    operators = [m.operator for m in pair.mutations]
    return {
        "id": row_id,
        "image_before": {"bytes": pair.before.png, "path": f"{row_id}_before.png"},
        "image_after": {"bytes": pair.after.png, "path": f"{row_id}_after.png"},
        "task_type": pair.task_type,
        "difficulty": ("no_diff" if pair.task_type == "no_diff"
                       else hardest([m.tier for m in pair.mutations])),
        "ground_truth_diff": pair.sentence,
        "mutation_dicts_json": dicts,
        "mutation_types": operators,
        "domain": pair.page.domain or "unknown",
        "pixel_diff": pair.metrics["pixel_diff"],
        "target_diff": pair.metrics["target_diff"],
        "outside_diff": pair.metrics["outside_diff"],
        "clip_distance": pair.metrics.get("clip_distance"),  # None: the signal was off
        "ssim": pair.metrics.get("ssim", 1.0),
        "ssim_target": pair.metrics.get("ssim_target", 1.0),
        "change_regions_json": json.dumps([list(r) for r in pair.regions]),
        "diff_bbox_x": area[0],
        "diff_bbox_y": area[1],
        "diff_bbox_w": area[2],
        "diff_bbox_h": area[3],
        "target_bbox_x": box[0],
        "target_bbox_y": box[1],
        "target_bbox_w": box[2],
        "target_bbox_h": box[3],
        "url": pair.page.url,
        "site": site_of(pair.page.url),
        "language": pair.language,
        "operator": "+".join(operators) if operators else "none",
    }
