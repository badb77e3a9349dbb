"""The HTML report, opened from disk in headless Chromium as a person would."""

import pyarrow.parquet as pq
from playwright.sync_api import sync_playwright
from typer.testing import CliRunner

from spotdiff.cli import app
from spotdiff.config import BrowserConfig
from spotdiff.renderer.browser import launch_browser


def test_report_opens_offline_and_its_gallery_filters(tmp_path, test_site):
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{test_site}catalogue.html sheet\n{test_site}basic.html landing\n")
    out = tmp_path / "ds"
    runner = CliRunner()
    result = runner.invoke(app, ["generate", "--urls-file", str(urls), "--out", str(out),
                                 "--pairs", "8", "--no-diff", "2", "--keep-rejects", "2",
                                 "--workers", "1"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["report", str(out)])
    assert result.exit_code == 0, result.output
    index = out / "report" / "index.html"
    rows = pq.read_table(sorted((out / "data").glob("*.parquet")), columns=["operator"])
    operators = rows["operator"].to_pylist()

    with sync_playwright() as pw:
        browser, _ = launch_browser(pw, BrowserConfig())
        page = browser.new_page()
        problems = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
        page.goto(index.as_uri())
        page.wait_for_load_state("load")
        assert page.locator("#gallery .pair").count() == len(operators) == 10
        assert page.inner_text("#count") == "10 pairs"
        page.select_option("#f-task_type", "no_diff")
        assert page.locator("#gallery .pair").count() == 2
        page.select_option("#f-task_type", "")
        op = operators[0]
        page.select_option("#f-operator", op)
        assert page.locator("#gallery .pair").count() == operators.count(op) < len(operators)
        first = page.locator("#gallery .pair img").first
        first.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                               arg=first.element_handle())
        page.locator("#gallery .pair .imgs").first.click()
        page.wait_for_function(
            "() => document.getElementById('v-after').complete"
            " && document.getElementById('v-after').naturalWidth === 1280")
        kept = (out / "rejects" / "index.jsonl").read_text().splitlines()
        assert page.locator("#rejects .pair").count() == len(kept)
        browser.close()
    assert problems == []
