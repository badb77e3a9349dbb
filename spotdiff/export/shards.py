"""The dataset's shards: rows cut into files of about `shard_rows` rows, named
`data/<split>-NNNNN-of-NNNNN.parquet`.

Shards are written into a staging directory and moved into `data/` only once all are written,
so a failure (a full disk) never leaves `data/` with part of a dataset.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from spotdiff.export.parquet import schema, write_table

SHARD_NAME = re.compile(r"^(?P<split>.+)-\d+-of-\d+$")


def shard_split(path: Path) -> str:
    """The split a shard belongs to, from its file name."""
    match = SHARD_NAME.match(path.stem)
    return match["split"] if match else path.stem


class ShardWriter:
    """Buffers rows and writes a shard each time `shard_rows` are buffered. `finish` completes a
    shard's rows just before it is written; `metadata` is read then too, so it can say what
    `finish` did."""

    def __init__(self, data_dir: Path, staging: Path, split: str, shard_rows: int,
                 row_group_rows: int, finish: Callable[[pa.Table], pa.Table],
                 metadata: Callable[[], dict[str, str]]) -> None:
        self.data_dir = data_dir
        self.staging = staging
        self.split = split
        self.shard_rows = shard_rows
        self.row_group_rows = row_group_rows
        self.finish = finish
        self.metadata = metadata
        self.rows: Counter[str] = Counter()  # rows written, by task type
        self._pending: list[pa.Table] = []
        self._buffered = 0
        self._shards: list[Path] = []
        for old in staging.glob("*.parquet"):  # left by a run that failed while cutting
            old.unlink()

    def add(self, table: pa.Table) -> None:
        self._pending.append(table)
        self._buffered += table.num_rows
        if self._buffered >= self.shard_rows:
            self._flush()

    def close(self) -> Counter[str]:
        """Write the last shard (an empty one when there are no rows at all), replace the split's
        shards in `data/` with the new ones, and return the rows written by task type."""
        if self._pending or not self._shards:
            self._flush()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for old in self.data_dir.glob(f"{self.split}-*.parquet"):
            old.unlink()
        total = len(self._shards)
        for i, path in enumerate(self._shards):
            path.replace(self.data_dir / f"{self.split}-{i:05d}-of-{total:05d}.parquet")
        return self.rows

    def _flush(self) -> None:
        table = self.finish(pa.concat_tables(self._pending) if self._pending
                            else schema().empty_table())
        self._pending.clear()
        self._buffered = 0
        path = self.staging / f"{self.split}-{len(self._shards):05d}.parquet"
        write_table(table, path, self.row_group_rows, self.metadata())
        self.rows.update(table["task_type"].to_pylist())
        self._shards.append(path)
