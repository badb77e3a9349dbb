"""The pairs of a generated dataset as evaluation items: ground truth without the images, and
the images streamed a few rows at a time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

from spotdiff.report.dataset import iter_images, read_config, read_rows

# What the judge needs to know of a mutation; selectors, XPaths and boxes would only distract it
JUDGE_FIELDS = ("type", "element", "property", "direction", "old_value", "new_value")


@dataclass(frozen=True)
class EvalItem:
    id: str
    split: str  # DiffSpot's split: the row's difficulty (easy | medium | hard | no_diff)
    sentence: str
    mutations: tuple[dict[str, Any], ...]

    @property
    def has_diff(self) -> bool:
        return self.split != "no_diff"

    def judge_mutations(self) -> list[dict[str, Any]]:
        return [{k: m.get(k) for k in JUDGE_FIELDS} for m in self.mutations]


class DatasetError(ValueError):
    """Not a dataset written by `spotdiff generate`."""


def _item(row: dict[str, Any]) -> EvalItem:
    return EvalItem(id=row["id"], split=row["difficulty"], sentence=row["ground_truth_diff"],
                    mutations=tuple(json.loads(m) for m in row["mutation_dicts_json"]))


def read_items(dataset_dir: Path) -> list[EvalItem]:
    if not (dataset_dir / "data").is_dir():
        raise DatasetError(f"{dataset_dir} has no data/ directory: is it a dataset written by "
                           "generate?")
    items = [_item(row) for row in read_rows(dataset_dir)]
    if not items:
        raise DatasetError(f"{dataset_dir}/data holds no rows")
    return items


def iter_with_images(dataset_dir: Path, items: list[EvalItem]
                     ) -> Iterator[tuple[EvalItem, bytes, bytes]]:
    """(item, before PNG, after PNG) for every row, in dataset order; `items` are the dataset's
    `read_items`."""
    images = chain.from_iterable(iter_images(dataset_dir))
    for item, (before, after) in zip(items, images, strict=True):
        yield item, before, after


def operator_names(dataset_dir: Path) -> list[str]:
    """The operators the run could use (config.yaml), else those in the rows."""
    specs = read_config(dataset_dir)[1].get("operator_specs") or {}
    if specs:
        return sorted(specs)
    return sorted({m["type"] for item in read_items(dataset_dir) for m in item.mutations})
