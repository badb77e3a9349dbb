"""Cutting rows into shards: sizes, names, metadata, and a failure that leaves data/ as it was."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spotdiff.export.parquet import schema
from spotdiff.export.shards import ShardWriter, shard_split


def rows(ids: list[str], task_type: str = "visual_diff") -> pa.Table:
    return pa.Table.from_pylist([{"id": i, "task_type": task_type} for i in ids],
                                schema=schema())


def writer(tmp_path, finish=lambda table: table, shard_rows: int = 3) -> ShardWriter:
    return ShardWriter(tmp_path / "data", tmp_path / ".run" / "shards", "test", shard_rows, 2,
                       finish, lambda: {"spotdiff": json.dumps({"seed": 7})})


def test_rows_are_cut_into_named_shards_that_replace_the_splits_old_ones(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "test-00000-of-00009.parquet").write_bytes(b"an older run's shard")
    (data / "train-00000-of-00001.parquet").write_bytes(b"another split")
    finished: list[int] = []
    shards = writer(tmp_path, lambda t: finished.append(t.num_rows) or t)
    for ids in (["a", "b"], ["c", "d"], ["e"], ["f", "g", "h"]):
        shards.add(rows(ids))
    shards.add(rows(["n"], "no_diff"))
    assert shards.close() == {"visual_diff": 8, "no_diff": 1}
    assert finished == [4, 4, 1]  # a shard is cut once 3 rows are buffered
    names = sorted(p.name for p in data.iterdir())
    assert names == ["test-00000-of-00003.parquet", "test-00001-of-00003.parquet",
                     "test-00002-of-00003.parquet", "train-00000-of-00001.parquet"]
    first = pq.ParquetFile(data / names[0])
    assert first.metadata.num_row_groups == 2  # row_group_rows 2
    assert json.loads(first.schema_arrow.metadata[b"spotdiff"]) == {"seed": 7}
    assert "huggingface" in {k.decode() for k in first.schema_arrow.metadata}
    ids = pq.read_table(sorted(data.glob("test-*.parquet")))["id"].to_pylist()
    assert ids == list("abcdefghn")
    assert [shard_split(data / n) for n in names] == ["test", "test", "test", "train"]
    assert not list((tmp_path / ".run" / "shards").iterdir())


def test_no_rows_give_one_empty_shard(tmp_path):
    shards = writer(tmp_path)
    assert shards.close() == {}
    (only,) = (tmp_path / "data").iterdir()
    assert only.name == "test-00000-of-00001.parquet"
    assert pq.read_table(only).num_rows == 0


def test_a_failure_while_cutting_leaves_data_as_it_was(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    old = data / "test-00000-of-00001.parquet"
    old.write_bytes(b"the last complete dataset")

    def finish(table: pa.Table) -> pa.Table:
        if table["id"][0].as_py() == "c":
            raise OSError(28, "No space left on device")
        return table

    shards = writer(tmp_path, finish)
    with pytest.raises(OSError, match="No space"):
        for ids in (["a", "b", "x"], ["c", "d", "y"]):
            shards.add(rows(ids))
    assert [p.name for p in data.iterdir()] == [old.name]
    assert old.read_bytes() == b"the last complete dataset"
    staging = tmp_path / ".run" / "shards"
    assert len(list(staging.iterdir())) == 1  # the shard written before the failure
    writer(tmp_path)
    assert not list(staging.iterdir())  # the next attempt starts from an empty staging directory
