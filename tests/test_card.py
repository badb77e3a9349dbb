"""The dataset card `generate` writes: front matter the `datasets` library loads the directory
by, with PIL images and the parquet's own features, and a body made from the run."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
import yaml


def _card(out):
    text = (out / "README.md").read_text(encoding="utf-8")
    _, matter, body = text.split("---\n", 2)
    return yaml.safe_load(matter), body


def test_front_matter_names_the_splits_features_and_licence(sample_dataset):
    matter, _ = _card(sample_dataset)
    assert matter["license"] == "cc-by-sa-4.0"  # from the run config
    assert matter["size_categories"] == ["n<1K"]
    assert matter["task_categories"]
    (config,) = matter["configs"]
    (split,) = config["data_files"]
    files = sorted(p.relative_to(sample_dataset).as_posix()
                   for p in (sample_dataset / "data").glob("*.parquet"))
    assert split == {"split": "test", "path": files}
    names = [f["name"] for f in matter["dataset_info"]["features"]]
    assert names == pq.read_schema(sample_dataset / files[0]).names
    assert matter["dataset_info"]["splits"] == [{"name": "test", "num_examples": 13}]


def test_body_describes_the_run(sample_dataset):
    _, body = _card(sample_dataset)
    rows = pq.read_table(sorted((sample_dataset / "data").glob("*.parquet")),
                         columns=["operator", "difficulty", "task_type"]).to_pylist()
    visual = [r for r in rows if r["task_type"] == "visual_diff"]
    assert f"| **all** | {sum(r['difficulty'] == 'easy' for r in visual)} |" in body
    for op in {r["operator"] for r in visual}:
        n = sum(r["operator"] == op for r in visual)
        assert any(line.startswith(f"| `{op}` |") and line.endswith(f"| {n} |")
                   for line in body.splitlines()), op
    for needle in ("`gate.min_target_diff`", "`gate.max_outside_diff`", "Playwright",
                   "Chromium", "none (`clip.backend: none`)", "load_dataset(",
                   "--repo-type dataset", "Page languages: en 13"):
        assert needle in body, needle


def test_the_directory_loads_with_datasets_as_pil_images(sample_dataset):
    datasets = pytest.importorskip("datasets")
    from PIL import Image

    ds = datasets.load_dataset(str(sample_dataset))
    assert list(ds) == ["test"] and len(ds["test"]) == 13
    files = sorted((sample_dataset / "data").glob("*.parquet"))
    assert ds["test"].features == datasets.Features.from_arrow_schema(pq.read_schema(files[0]))
    row = ds["test"][0]
    assert isinstance(row["image_before"], Image.Image)
    assert row["image_before"].size == (1280, 800)
    # the hub's viewer reads image row groups of at most 100 rows
    for f in files:
        meta = pq.ParquetFile(f).metadata
        assert all(meta.row_group(g).num_rows <= 100 for g in range(meta.num_row_groups))
