"""The HTML report: built from a small dataset written with the real parquet writer, then opened
from disk in headless Chromium as a person would."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import typer
import yaml
from PIL import Image
from playwright.sync_api import expect, sync_playwright
from typer.testing import CliRunner

from spotdiff.config import BrowserConfig
from spotdiff.export.parquet import write_rows
from spotdiff.renderer.browser import launch_browser
from spotdiff.report.command import report_command as report
from spotdiff.report.images import write_pair

W, H = 1280, 800
BOX = (600, 300, 160, 60)
OPERATORS = ["color", "opacity", "text"]


def _png(fill: tuple[int, int, int]) -> bytes:
    image = Image.new("RGB", (W, H), (250, 250, 250))
    x, y, w, h = BOX
    image.paste((30, 60, 90), (0, 0, W, 80))
    image.paste(fill, (x, y, x + w, y + h))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _row(k: int, split: str) -> dict:
    no_diff = k % 7 == 6
    operator = "none" if no_diff else OPERATORS[k % 3]
    tier = "no_diff" if no_diff else ["easy", "medium", "hard"][k % 3]
    mutation = {"type": operator, "element": f"box {k}", "selector": "#box", "xpath": "/html/div",
                "property": operator, "direction": "changed", "old_value": "a", "new_value": "b",
                "magnitude": 1.0, "tier": tier, "bbox": list(BOX), "template": "{element}"}
    box = (-1, -1, -1, -1) if no_diff else BOX
    return {
        "id": f"{split}{k:03d}", "image_before": {"bytes": _png((200, 40, 40)), "path": "b.png"},
        "image_after": {"bytes": _png((200, 40, 40) if no_diff else (40, 40, 200)),
                        "path": "a.png"},
        "task_type": "no_diff" if no_diff else "visual_diff", "difficulty": tier,
        "ground_truth_diff": "No change." if no_diff else f"The box {k} changed colour.",
        "mutation_dicts_json": [] if no_diff else [json.dumps(mutation)],
        "mutation_types": [] if no_diff else [operator],
        "domain": ["news", "shop"][k % 2], "pixel_diff": 0.0 if no_diff else 0.0094,
        "target_diff": 0.0 if no_diff else 1.0, "outside_diff": 0.0,
        "clip_distance": 0.0 if no_diff else 0.001 * (k + 1), "ssim": 1.0, "ssim_target": 1.0,
        "change_regions_json": "[]", "diff_bbox_x": -1, "diff_bbox_y": -1, "diff_bbox_w": -1,
        "diff_bbox_h": -1, "target_bbox_x": box[0], "target_bbox_y": box[1],
        "target_bbox_w": box[2], "target_bbox_h": box[3],
        "url": f"http://127.0.0.1:9/{k}.html", "language": "en", "operator": operator,
    }


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """14 rows in two splits (2 no-diff controls), stats, config and 3 kept rejects."""
    root = tmp_path_factory.mktemp("ds")
    write_rows([_row(k, "train") for k in range(10)],
               root / "data" / "train-00000-of-00001.parquet", 100)
    write_rows([_row(k, "test") for k in range(10, 14)],
               root / "data" / "test-00000-of-00001.parquet", 100)
    operators = {op: {"tried": 8, "accepted": 5, "rejected": {"contaminated": 2, "no_effect": 1}}
                 for op in OPERATORS}
    (root / "stats.json").write_text(json.dumps({
        "candidates": {"tried": 24, "accepted": 15,
                       "rejected": {"contaminated": 6, "no_effect": 3}},
        "operators": operators, "pages": {"loaded": 3, "total": 3}, "elapsed_s": 5.0}))
    (root / "config.yaml").write_text(yaml.safe_dump(
        {"gate": {"min_target_diff": 0.0005, "max_outside_diff": 1e-05}}))
    (root / "rejects").mkdir()
    entries = []
    for k, reason in enumerate(["contaminated", "contaminated", "no_effect"]):
        for side, fill in (("before", (200, 40, 40)), ("after", (40, 200, 40))):
            (root / "rejects" / f"r{k}-{side}.png").write_bytes(_png(fill))
        entries.append({"reason": reason, "operator": "color", "tier": "easy",
                        "url": "http://127.0.0.1:9/r.html", "sentence": f"Rejected {k}.",
                        "box": list(BOX), "before": f"rejects/r{k}-before.png",
                        "after": f"rejects/r{k}-after.png",
                        "metrics": {"pixel_diff": 0.01, "target_diff": 0.5, "outside_diff": 0.002}})
    (root / "rejects" / "index.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
    return root


def test_a_one_pixel_change_shows_in_the_heat_map_and_the_mask(tmp_path):
    before = Image.new("RGB", (W, H), "white")
    after = before.copy()
    after.putpixel((641, 402), (254, 255, 255))
    pngs = []
    for image in (before, after):
        buf = io.BytesIO()
        image.save(buf, "PNG")
        pngs.append(buf.getvalue())
    assert write_pair((tmp_path, "p", *pngs)) == (W, H)
    mask = np.asarray(Image.open(tmp_path / "p-diff.png"))
    assert mask.sum() == 9 and mask[401:404, 640:643].all()  # the pixel, grown to 3×3
    heat = np.asarray(Image.open(tmp_path / "p-heat.webp").convert("RGB")).astype(int)
    red = (heat[:, :, 0] > 180) & (heat[:, :, 1] < 120)
    assert red[100, 160] and 0 < red.sum() < 40  # one 4×4 block, grown, in a 320×200 thumbnail
    assert Image.open(tmp_path / "p-before.webp").size == (320, 200)


def test_report_opens_from_disk_and_its_gallery_filters_and_pages(dataset, tmp_path):
    app = typer.Typer()
    app.command()(report)
    out = tmp_path / "report"
    result = CliRunner().invoke(app, [str(dataset), "--out", str(out), "--page-size", "8"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "acceptance.png", "img", "index.html", "measures.png", "pairs.js"]

    with sync_playwright() as pw:
        browser, _ = launch_browser(pw, BrowserConfig())
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
        page.goto((out / "index.html").as_uri())
        page.wait_for_load_state("load")

        cards = page.locator("#pairs .card")
        expect(cards).to_have_count(8)
        expect(page.locator("#count")).to_have_text("pairs 1–8 of 14")
        page.locator(".pager button[data-step='1']").first.click()
        expect(cards).to_have_count(6)
        page.select_option("select[data-key='task_type']", "no_diff")
        expect(cards).to_have_count(2)
        expect(page.locator("#count")).to_have_text("pairs 1–2 of 2 (filtered from 14)")
        page.select_option("select[data-key='task_type']", "")
        page.select_option("select[data-key='split']", "test")
        page.select_option("select[data-key='operator']", "color")
        expect(cards).to_have_count(1)  # test rows 10-13: color is row 12 only

        first = cards.first
        first.scroll_into_view_if_needed()
        for img in first.locator("img").all():
            img.evaluate("i => i.decode()")
            assert img.evaluate("i => i.naturalWidth") == 320
            box = img.bounding_box()
            assert box and box["width"] > 100 and box["height"] > 50
        assert first.locator(".box").count() == 3  # the target box on before, after and diff

        first.locator(".shots").click()
        expect(page.locator("#viewer")).to_be_visible()
        page.wait_for_function("() => ['v-before', 'v-after', 'v-diff'].every(id =>"
                               " document.getElementById(id).complete"
                               " && document.getElementById(id).naturalWidth === 1280)")
        page.keyboard.press(" ")
        expect(page.locator("#v-left")).to_have_text("after")
        page.keyboard.press(" ")
        expect(page.locator("#v-left")).to_have_text("before")
        page.keyboard.press("Escape")
        expect(page.locator("#viewer")).to_be_hidden()

        expect(page.locator("#rejects .card")).to_have_count(3)
        expect(page.locator("#rejects .reject-group")).to_have_count(2)
        expect(page.locator("#rejects .metrics b.fail")).to_have_count(3)  # outside_diff > max
        expect(page.locator("#summary")).to_contain_text("rejected: contaminated")
        browser.close()
    assert problems == []
