"""A split from a user's own URL list (no categories given, several sites on 127.0.0.1): one
row per URL, no-diff controls included; `domain` is the page's category, `site` its host."""

import json
from urllib.parse import urlsplit

import pyarrow.parquet as pq
import yaml
from typer.testing import CliRunner

from spotdiff.cli import app
from spotdiff.config import BUNDLED_CONFIGS, ClipConfig
from spotdiff.grounding.embedding import EmbeddingCache, load_embedder
from spotdiff.renderer.session import decode_png

# Far more pages than the six rows need, so that whatever order the random ports give them, the
# waves stop before the pool runs out.
SOURCES = [("bs5-examples", 8), ("python3.11-doc", 5), ("sb-admin-2-4.1.4", 6),
           ("tabler-ui-0.0.34", 6)]


def test_every_row_comes_from_its_own_url_and_names_its_category(serve_corpus, tmp_path):
    pages = serve_corpus(SOURCES)
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(f"{p.url}\n" for p in pages))
    split = tmp_path / "mini.yaml"
    split.write_text(yaml.safe_dump({
        "quota_per_cell": 2, "operators": ["color", "opacity"], "tiers": ["easy"],
        "no_diff": 2, "max_pairs_per_page": 1, "max_domain_share": 0.5}))
    out = tmp_path / "ds"
    result = CliRunner().invoke(app, [
        "generate", "--urls-file", str(urls), "--out", str(out), "--split", str(split),
        "--workers", "2", "--strict"])
    assert result.exit_code == 0, result.output
    rows = pq.read_table(sorted((out / "data").glob("*.parquet")),
                         columns=["url", "site", "domain", "task_type", "clip_distance"]
                         ).to_pylist()
    assert sorted(r["task_type"] for r in rows) == ["no_diff"] * 2 + ["visual_diff"] * 4
    urls_used = [r["url"] for r in rows]
    assert len(set(urls_used)) == len(urls_used)  # controls too: no URL gives two rows
    categories = set(yaml.safe_load((BUNDLED_CONFIGS / "categories.yaml").read_text())
                     ["categories"]) | {"other"}
    for r in rows:
        assert r["domain"] in categories
        parts = urlsplit(r["url"])
        assert r["site"] == f"{parts.hostname}:{parts.port}"
        assert r["clip_distance"] >= 0  # computed for the rows written
    stats = json.loads((out / "stats.json").read_text())
    assert not stats["short_cells"] and stats["short_no_diff"] == 0
    assert max(sum(r["domain"] == d for r in rows if r["task_type"] == "visual_diff")
               for d in categories) <= 2  # the 50% cap on 4 pairs
    assert stats["pages"]["total"] == stats["pages_planned"] < len(pages)  # the rest unloaded
    # embeddings only for the rows written: a before and an after each
    assert stats["clip"]["images_embedded"] <= 2 * len(rows)


def test_clip_distance_bounds_are_applied_in_the_gate(tmp_path, test_site):
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({"gate": {"clip_distance": [0.0, 0.0005]},
                                      "clip": {"backend": "onnx"}}))
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{test_site}basic.html test\n{test_site}catalogue.html test\n")
    out = tmp_path / "ds"
    result = CliRunner().invoke(app, [
        "generate", "--config", str(config), "--urls-file", str(urls), "--out", str(out),
        "--pairs", "6", "--no-diff", "1", "--workers", "1"])
    assert result.exit_code == 0, result.output
    stats = json.loads((out / "stats.json").read_text())
    candidates = stats["candidates"]
    assert candidates["rejected"]["clip_distance"] >= 1  # decided per candidate, in the gate
    assert candidates["accepted"] + sum(candidates["rejected"].values()) == candidates["tried"]
    rows = pq.read_table(sorted((out / "data").glob("*.parquet")),
                         columns=["task_type", "clip_distance"]).to_pylist()
    assert all(0 <= r["clip_distance"] <= 0.0005 for r in rows if r["task_type"] == "visual_diff")
    assert [r["clip_distance"] >= 0 for r in rows if r["task_type"] == "no_diff"] == [True]


def test_rows_taken_for_a_page_that_fell_short_are_embedded_once_with_every_core(
        tmp_path, test_site):
    """--pairs: each worker embeds the rows selection keeps whatever the other pages give; the
    rows taken because a page gave nothing (a 404 here) are embedded at the end by the main
    process, from the before-frames the workers already embedded, on every core. Whoever
    embeds a row, its distance is the one the encoder gives its two frames."""
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({"clip": {"backend": "onnx"}}))
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(f"{test_site}{page} test\n"
                            for page in ("basic.html", "catalogue.html", "missing.html")))
    out = tmp_path / "ds"
    result = CliRunner().invoke(app, [
        "generate", "--config", str(config), "--urls-file", str(urls), "--out", str(out),
        "--pairs", "4", "--no-diff", "0", "--workers", "2"])
    assert result.exit_code == 0, result.output
    rows = pq.read_table(sorted((out / "data").glob("*.parquet")),
                         columns=["url", "image_before", "image_after", "clip_distance"]
                         ).to_pylist()
    assert len(rows) == 4 and len({r["url"] for r in rows}) == 2
    stats = json.loads((out / "stats.json").read_text())
    assert stats["pages"]["skipped"] == {"http_error": 1}
    # each page's before-frame once, though some of its rows were embedded in another process
    assert stats["clip"]["images_embedded"] == len(rows) + 2
    fresh = EmbeddingCache(load_embedder(ClipConfig(backend="onnx")), decode=decode_png)
    assert [r["clip_distance"] for r in rows] == fresh.distances(
        [(r["image_before"]["bytes"], r["image_after"]["bytes"]) for r in rows])
