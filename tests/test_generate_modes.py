"""generate as users run it beyond the defaults: a YAML-only operator, a quota split,
multi-mutation pairs, kept rejects, and the Ray executor."""

import json

import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from spotdiff.cli import app

OUTLINE = {
    "name": "outline", "family": "border", "mechanism": "style", "property": "outline",
    "label": "outline", "format": "{value} solid #d0021b",
    "value": {"kind": "numeric", "unit": "px", "direction": "increase",
              "keywords": {"none": 0}},
    "read": "outline-width", "spread": 1.0,
    "tiers": {"easy": [4, 6], "medium": [2, 4], "hard": [1, 2]},
    "applies_to": {"min_width": 20, "min_height": 12},
    "phrases": {"increase": "outlined"},
    "template": "The {element} is {phrase} in red ({new} outline).",
}


def invoke(*args):
    result = CliRunner().invoke(app, list(map(str, args)))
    assert result.exit_code == 0, result.output
    return result


def urls(tmp_path, test_site, names=("basic.html", "catalogue.html")):
    path = tmp_path / "urls.txt"
    path.write_text("".join(f"{test_site}{n} test\n" for n in names))
    return path


def rows(out):
    return pq.read_table(sorted((out / "data").glob("*.parquet"))).to_pylist()


def test_a_new_operator_is_yaml_only(tmp_path, test_site):
    ops = tmp_path / "outline.yaml"
    ops.write_text(yaml.safe_dump({"operators": [OUTLINE]}))
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({"operators": [str(ops)]}))
    listed = invoke("operators", "--config", config)
    assert "outline" in listed.output
    out = tmp_path / "ds"
    invoke("generate", "--config", config, "--urls-file", urls(tmp_path, test_site),
           "--out", out, "--pairs", 4, "--no-diff", 0, "--workers", 1)
    got = rows(out)
    assert len(got) == 4 and {r["operator"] for r in got} == {"outline"}
    assert all("outline" in r["ground_truth_diff"] for r in got)


def test_split_fills_its_quota_table(tmp_path, test_site):
    split = tmp_path / "mini.yaml"
    split.write_text(yaml.safe_dump({
        "quota_per_cell": 1, "operators": ["color", "opacity"], "tiers": ["easy", "hard"],
        "no_diff": 1, "max_pairs_per_page": 2, "max_domain_share": None}))
    out = tmp_path / "ds"
    invoke("generate", "--split", split, "--urls-file", urls(tmp_path, test_site), "--out", out,
           "--workers", 1)
    stats = json.loads((out / "stats.json").read_text())
    assert set(stats["fill"]) == {"color", "opacity"}
    got = rows(out)
    visual = [r for r in got if r["task_type"] == "visual_diff"]
    assert len(visual) == sum(t[0] for op in stats["fill"].values() for t in op.values())
    per_page = {u: sum(r["url"] == u for r in visual) for u in {r["url"] for r in visual}}
    assert max(per_page.values()) <= 2
    assert all(r["operator"] in ("color", "opacity") and r["difficulty"] in ("easy", "hard")
               for r in visual)
    assert sorted((out / "data").glob("mini-*.parquet"))
    for op, tiers in stats["short_cells"].items():
        assert all(isinstance(why, str) and why for why in tiers.values()), op


def test_multi_mutation_pairs_have_disjoint_targets_and_kept_rejects(tmp_path, test_site):
    out = tmp_path / "ds"
    invoke("generate", "--urls-file", urls(tmp_path, test_site, ("catalogue.html",)),
           "--out", out, "--pairs", 2, "--no-diff", 0, "--mutations-per-pair", 2,
           "--keep-rejects", 2, "--workers", 1)
    for row in rows(out):
        dicts = [json.loads(d) for d in row["mutation_dicts_json"]]
        assert len(dicts) == 2 and len(row["mutation_types"]) == 2
        (ax, ay, aw, ah), (bx, by, bw, bh) = (d["bbox"] for d in dicts)
        assert ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay
        assert row["ground_truth_diff"].count(".") >= 2
    index = out / "rejects" / "index.jsonl"
    for line in index.read_text().splitlines():
        entry = json.loads(line)
        assert (out / entry["before"]).exists() and (out / entry["after"]).exists()


def test_ray_executor_on_a_local_instance(tmp_path, test_site):
    pytest.importorskip("ray")
    out = tmp_path / "ds"
    invoke("generate", "--urls-file", urls(tmp_path, test_site), "--out", out, "--pairs", 4,
           "--no-diff", 1, "--executor", "ray")
    stats = json.loads((out / "stats.json").read_text())
    assert stats["executor"] == "ray" and stats["rows"] == {"visual_diff": 4, "no_diff": 1}


