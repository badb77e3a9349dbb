"""Reading what `spotdiff generate` wrote: the rows (metadata apart from the images), the
images in small batches, stats.json, config.yaml and the kept rejects."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import yaml

from spotdiff.export.shards import shard_split

IMAGES = ("image_before", "image_after")


def shards(dataset_dir: Path) -> list[tuple[str, Path]]:
    """(split, file) for every parquet shard, in a fixed order."""
    return [(shard_split(path), path) for path in sorted((dataset_dir / "data").glob("*.parquet"))]


def read_rows(dataset_dir: Path) -> list[dict[str, Any]]:
    """Every row without its image bytes, with `split` added, in shard order."""
    rows = []
    for split, path in shards(dataset_dir):
        columns = [c for c in pq.read_schema(path).names if c not in IMAGES]
        for row in pq.read_table(path, columns=columns).to_pylist():
            row["split"] = split
            rows.append(row)
    return rows


def iter_images(dataset_dir: Path, batch_rows: int = 8) -> Iterator[list[tuple[bytes, bytes]]]:
    """(before PNG, after PNG) of every row, in the order of `read_rows`, a few rows at a time
    so that memory stays flat for any dataset size."""
    for _, path in shards(dataset_dir):
        shard = pq.ParquetFile(path)
        # one row group at a time: iter_batches buffers far more of a large file
        for group in range(shard.num_row_groups):
            for batch in shard.read_row_group(group, columns=IMAGES).to_batches(batch_rows):
                yield [(row["image_before"]["bytes"], row["image_after"]["bytes"])
                       for row in batch.to_pylist()]


def read_stats(dataset_dir: Path) -> dict[str, Any]:
    path = dataset_dir / "stats.json"
    return json.loads(path.read_text()) if path.exists() else {}


def read_config(dataset_dir: Path) -> tuple[str, dict[str, Any]]:
    """config.yaml as text and parsed ("" and {} when absent)."""
    path = dataset_dir / "config.yaml"
    if not path.exists():
        return "", {}
    text = path.read_text(encoding="utf-8")
    return text, yaml.safe_load(text) or {}


def read_rejects(dataset_dir: Path) -> list[dict[str, Any]]:
    """The entries of rejects/index.jsonl (paths relative to the dataset), [] when none kept."""
    index = dataset_dir / "rejects" / "index.jsonl"
    if not index.exists():
        return []
    lines = index.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]
