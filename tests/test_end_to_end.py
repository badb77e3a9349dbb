"""`spotdiff generate` over development-corpus pages as a user runs it, and its parquet."""

import io
import json

import pyarrow.parquet as pq
import pytest
from PIL import Image
from typer.testing import CliRunner

from spotdiff.cli import app
from spotdiff.mutators.catalogue import load_catalogue

SOURCES = [("bs5-examples", 2), ("sb-admin-2-4.1.4", 1), ("python3.11-doc", 1),
           ("debian-reference-ja+zh", 1), ("tabler-ui-0.0.34", 1)]


@pytest.fixture(scope="module")
def urls_file(serve_corpus, tmp_path_factory):
    pages = serve_corpus(SOURCES)
    path = tmp_path_factory.mktemp("urls") / "urls.txt"
    path.write_text("".join(f"{p.url} {p.domain}\n" for p in pages))
    return path


def generate(urls_file, out, *extra):
    result = CliRunner().invoke(app, ["generate", "--urls-file", str(urls_file), "--out", str(out),
                                      "--pairs", "12", "--no-diff", "3", "--seed", "7", *extra])
    assert result.exit_code == 0, result.output
    return json.loads((out / "stats.json").read_text())


@pytest.fixture(scope="module")
def dataset(urls_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("ds")
    return out, generate(urls_file, out)


def test_stats_account_for_every_candidate(dataset):
    out, stats = dataset
    c = stats["candidates"]
    assert c["tried"] == c["accepted"] + sum(c.get("rejected", {}).values())
    assert stats["pages"]["loaded"] == 6
    assert stats["rows"] == {"visual_diff": 12, "no_diff": 3}
    for op in stats["operators"].values():
        assert op.get("tried", 0) >= op.get("accepted", 0)
    assert (out / "config.yaml").exists()


def test_parquet_loads_with_pyarrow_and_rows_are_well_formed(dataset, cfg):
    catalogue = load_catalogue(cfg.operator_paths())
    out, _ = dataset
    files = sorted((out / "data").glob("test-*.parquet"))
    assert files
    table = pq.read_table(files)
    assert table.num_rows == 15
    for row in table.to_pylist():
        for side in ("image_before", "image_after"):
            with Image.open(io.BytesIO(row[side]["bytes"])) as im:
                assert im.size == (1280, 800)
        if row["task_type"] == "no_diff":
            assert row["pixel_diff"] == 0 and row["difficulty"] == "no_diff"
            assert row["mutation_dicts_json"] == [] and row["target_bbox_w"] == -1
            continue
        assert row["difficulty"] in ("easy", "medium", "hard")
        (d,) = [json.loads(s) for s in row["mutation_dicts_json"]]
        for key in ("type", "element", "selector", "xpath", "property", "direction",
                    "old_value", "new_value", "template"):
            assert d[key] not in (None, ""), key
        assert d["type"] == row["operator"] == row["mutation_types"][0]
        assert d["mechanism"] in ("inline", "class_swap", "text", "attribute", "dom")
        assert ("old_class" in d) == (d["mechanism"] == "class_swap")
        assert row["target_diff"] > 0 and row["pixel_diff"] > 0
        assert row["target_bbox_w"] > 0 and row["url"].startswith("http://127.0.0.1")
        assert row["ground_truth_diff"][:1].isupper() and row["ground_truth_diff"].endswith(".")
        # the tier is how visible the change measured: at least the floor, in the bounds' tier
        spec = catalogue[d["type"]]
        assert d["visibility"]["measure"] == spec.visibility.measure
        assert d["visibility"]["value"] >= spec.visibility.floor
        assert row["difficulty"] == d["tier"] == (spec.visibility_tier(d["visibility"]["value"])
                                                  or d["tier"])
        assert d["magnitude_range"] is None or len(d["magnitude_range"]) == 2
        x, y, w, h = d["ink_bbox"]
        bx, by, bw, bh = d["bbox"]
        assert bx - 1 <= x and x + w <= bx + bw + 1 and by - 1 <= y and y + h <= by + bh + 1


def test_parquet_loads_with_datasets_as_pil_images(dataset):
    datasets = pytest.importorskip("datasets")
    out, _ = dataset
    ds = datasets.load_dataset("parquet", data_files=str(out / "data" / "*.parquet"),
                               split="train")
    assert len(ds) == 15
    row = ds[0]
    assert isinstance(row["image_before"], Image.Image) and row["image_before"].size == (1280, 800)
    assert isinstance(row["mutation_dicts_json"], list)


def test_same_seed_and_pages_give_the_same_rows(dataset, urls_file, tmp_path):
    out, _ = dataset
    generate(urls_file, tmp_path / "again")
    cols = ["id", "operator", "difficulty", "ground_truth_diff", "pixel_diff", "target_diff"]
    first = pq.read_table(sorted((out / "data").glob("*.parquet")), columns=cols).to_pylist()
    second = pq.read_table(sorted((tmp_path / "again" / "data").glob("*.parquet")),
                           columns=cols).to_pylist()
    assert first == second


def test_rerun_resumes_from_the_ledger_without_duplicates(dataset, urls_file, tmp_path):
    out, _ = dataset
    ids = pq.read_table(sorted((out / "data").glob("*.parquet")), columns=["id"])["id"]
    # an interrupted run: two units never finished and no shards were cut yet
    import shutil

    resumed = tmp_path / "resumed"
    shutil.copytree(out, resumed)
    shutil.rmtree(resumed / "data")
    for marker in sorted((resumed / ".run" / "units").glob("*.json"))[-2:]:
        marker.unlink()
    stats = generate(urls_file, resumed)
    assert stats["resumed_units"] == 4
    again = pq.read_table(sorted((resumed / "data").glob("*.parquet")), columns=["id"])["id"]
    assert again.to_pylist() == ids.to_pylist()
    assert len(set(again.to_pylist())) == len(again)


def test_a_different_request_in_the_same_out_dir_is_refused(dataset, urls_file):
    out, _ = dataset
    result = CliRunner().invoke(app, ["generate", "--urls-file", str(urls_file), "--out", str(out),
                                      "--pairs", "99"])
    assert result.exit_code == 2 and "holds a run" in result.output


def test_gate_measures_and_calibration(dataset):
    out, stats = dataset
    assert stats["clip_models"]  # the model actually used is recorded
    rows = pq.read_table(sorted((out / "data").glob("*.parquet"))).to_pylist()
    for row in rows:
        assert 0 <= row["clip_distance"] <= 2 and -1 <= row["ssim"] <= 1
        regions = json.loads(row["change_regions_json"])
        if row["task_type"] == "no_diff":
            assert regions == [] and row["diff_bbox_w"] == -1 and row["clip_distance"] < 1e-6
            continue
        assert regions and row["ssim_target"] < 1
        x, y, w, h = (row[f"target_bbox_{k}"] for k in "xywh")
        dx, dy, dw, dh = (row[f"diff_bbox_{k}"] for k in "xywh")
        if row["outside_diff"] == 0:  # all change inside the target box (+ the gate's margin)
            assert x - 3 <= dx and y - 3 <= dy and dx + dw <= x + w + 3 and dy + dh <= y + h + 3
    result = CliRunner().invoke(app, ["calibrate", str(out)])
    assert result.exit_code == 0, result.output
    table = json.loads((out / "calibration.json").read_text())
    some = next(iter(table.values()))
    tier = next(t for t in ("easy", "medium", "hard") if t in some)
    assert set(some[tier]) >= {"n", "pixel_diff", "target_diff", "ssim", "clip_distance"}
    assert (out / "calibration.png").stat().st_size > 0
