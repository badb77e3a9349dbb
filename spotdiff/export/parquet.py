"""Parquet with Hugging Face features metadata, written atomically (temp name, then rename)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

IMAGE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
STRINGS = pa.list_(pa.string())
COLUMNS: list[tuple[str, pa.DataType]] = [
    ("id", pa.string()),
    ("image_before", IMAGE),
    ("image_after", IMAGE),
    ("task_type", pa.string()),
    ("difficulty", pa.string()),
    ("ground_truth_diff", pa.string()),
    ("mutation_dicts_json", STRINGS),
    ("mutation_types", STRINGS),
    ("domain", pa.string()),
    ("pixel_diff", pa.float64()),
    ("target_diff", pa.float64()),
    ("outside_diff", pa.float64()),
    ("clip_distance", pa.float64()),  # 1 - cosine of the image embeddings; null when off
    ("ssim", pa.float64()),
    ("ssim_target", pa.float64()),
    ("change_regions_json", pa.string()),  # [[x, y, w, h], …] of the changed pixels
    ("diff_bbox_x", pa.int32()),  # the box of all change; -1 when nothing changed
    ("diff_bbox_y", pa.int32()),
    ("diff_bbox_w", pa.int32()),
    ("diff_bbox_h", pa.int32()),
    ("target_bbox_x", pa.int32()),
    ("target_bbox_y", pa.int32()),
    ("target_bbox_w", pa.int32()),
    ("target_bbox_h", pa.int32()),
    ("url", pa.string()),
    ("site", pa.string()),  # the host (and port) the page came from; `domain` is its category
    ("language", pa.string()),
    ("operator", pa.string()),
]


def _feature(dtype: pa.DataType) -> dict[str, Any]:
    if dtype == IMAGE:
        return {"_type": "Image"}
    if pa.types.is_list(dtype):
        return {"feature": _feature(dtype.value_type), "_type": "List"}
    names = {pa.string(): "string", pa.float64(): "float64", pa.int32(): "int32"}
    return {"dtype": names[dtype], "_type": "Value"}


def schema(extra_metadata: dict[str, str] | None = None) -> pa.Schema:
    features = {name: _feature(dtype) for name, dtype in COLUMNS}
    metadata = {"huggingface": json.dumps({"info": {"features": features}}),
                **(extra_metadata or {})}
    return pa.schema(COLUMNS, metadata=metadata)


class OutputWriteError(OSError):
    """Writing the output failed (a full or vanished disk): not the page's fault, and retrying
    elsewhere cannot help. Names the file."""

    def __init__(self, path: Path, error: OSError) -> None:
        reason = " ".join((error.strerror or str(error)).split())
        super().__init__(error.errno, reason, str(path))

    def __str__(self) -> str:
        return f"cannot write {self.filename}: {self.strerror}"


@contextmanager
def writing(path: Path, tmp: Path) -> Iterator[None]:
    """Around a write to `tmp` that is then renamed to `path`: on failure `tmp` is removed (no
    half-written file stays) and an OSError becomes an OutputWriteError naming `path`."""
    try:
        yield
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError) and not isinstance(e, OutputWriteError):
            raise OutputWriteError(path, e) from e
        raise


def write_rows(rows: Iterable[dict[str, Any]], path: Path, row_group_rows: int) -> int:
    return write_table(pa.Table.from_pylist(list(rows), schema=schema()), path, row_group_rows)


def write_table(table: pa.Table, path: Path, row_group_rows: int,
                extra_metadata: dict[str, str] | None = None) -> int:
    """Write `table` to `path` atomically with the HF features metadata; returns its row count."""
    table = table.cast(schema(extra_metadata))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with writing(path, tmp):
        pq.write_table(table, tmp, row_group_size=row_group_rows)
        os.replace(tmp, path)
    return table.num_rows
