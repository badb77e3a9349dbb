"""The crawler against two real sites on loopback (127.0.0.1 and localhost, one port each) and real
headless Chromium: what it keeps, what it refuses and why, resuming, and generation replayed from
its archives once the sites are gone."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from spotdiff.cli import app
from spotdiff.config import load_config
from spotdiff.crawler.crawl import crawl
from spotdiff.crawler.manifest import Manifest
from spotdiff.renderer.session import Renderer

sys.path.insert(0, str(Path(__file__).parent / "crawl_sites"))
from server import Sites, serve_sites  # noqa: E402

LOOPBACK = ["--allow-network", "127.0.0.0/8", "--allow-network", "::1/128"]
# The test pages are small: shorter HTML and page thresholds than real pages get by default.
CONFIG = {"clip": {"backend": "none"},
          "crawl": {"min_interval_s": 0, "page_timeout_s": 4.0,
                    "filters": {"min_html_bytes": 500, "min_page_height": 200}}}


def invoke(*args: object) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def outcomes(pages: Path) -> dict[str, str]:
    lines = (pages / "frontier.jsonl").read_text().splitlines()
    return {e["url"]: e["outcome"] for e in map(json.loads, lines) if "outcome" in e}


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "run.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    return path


@pytest.fixture
def sites() -> Iterator[Sites]:
    sites = serve_sites()
    yield sites
    sites.stop()


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory, config_file: Path) -> Iterator[tuple]:
    """Both sites crawled from their home pages and sitemaps, off-site links followed so that
    links to private addresses are tried (and refused); then the sites are shut down."""
    sites = serve_sites()
    pages = tmp_path_factory.mktemp("crawl") / "pages"
    try:
        output = invoke("crawl", f"{sites.a}/", f"{sites.b}/", "--out", pages, "--sitemap",
                        "--follow-external", "--depth", 3, "--config", config_file, *LOOPBACK)
    finally:
        sites.stop()
    yield sites, pages, output


def test_crawl_keeps_the_right_pages_and_says_why_for_every_other(crawled: tuple) -> None:
    sites, pages, output = crawled
    a, b = sites.a, sites.b
    records = {r.url: r for r in Manifest(pages).read()}
    kept = {url for url, r in records.items() if r.kept}
    assert kept == {f"{a}/", f"{a}/about.html", f"{a}/docs/guide.html", f"{a}/old",
                    f"{a}/internal.html", f"{a}/orphan.html", f"{b}/", f"{b}/shop.html"}
    dropped = {url: r.reason for url, r in records.items() if not r.kept}
    assert dropped == {
        f"{a}/tiny.html": "html_too_short", f"{a}/docs/guide-print.html": "near_duplicate",
        f"{b}/charts.html": "too_many_embeds", f"{b}/blank.html": "blank_viewport",
        f"{b}/short.html": "page_too_short"}
    refused = {url: why for url, why in outcomes(pages).items() if why != "captured"}
    assert refused == {
        f"{a}/private/secret.html": "robots_disallowed",
        f"{a}/files/report.pdf": "non_html", f"{a}/download": "non_html",
        f"{a}/slow.html": "timeout",
        f"{a}/docs/guide.html?print=1": "duplicate",
        "http://10.0.0.1/admin": "private_address",
        "http://169.254.169.254/latest/meta-data/": "private_address",
        "http://192.168.1.1/": "private_address", "http://[fd00::1]/": "private_address",
        f"{a}/go-internal": "private_address",  # its redirect leads to 10.0.0.1
        f"{b}/checkout.html": "http_error",
        "mailto:hello@example.org": "not_http", "javascript:void(0)": "not_http",
    }
    # robots.txt read once per site; the disallowed page and the PDF never requested
    assert sites.hits["a:/robots.txt"] == 1 and sites.hits["b:/robots.txt"] == 1
    assert not any("secret" in k or "report.pdf" in k for k in sites.hits)
    assert sites.hits["a:/ws"] == 0  # the WebSocket internal.html opens: refused in Chromium
    assert sites.hits["a:/sw.js"] == 0  # about.html's service worker: not even registered
    # B's robots.txt lets only spotdiff in, with a Crawl-delay its requests keep (whole seconds:
    # the standard library's parser ignores fractions; Chromium's capture loads are not paced)
    times = [t for t, site, agent, _ in sites.log if site == "b" and agent.startswith("spotdiff/")]
    assert len(times) >= 7 and min(b - a for a, b in zip(times, times[1:], strict=False)) >= 0.8

    moved = records[f"{a}/old"]
    assert moved.final_url == f"{a}/docs/moved.html" and moved.redirects == [f"{a}/old"]
    assert records[f"{b}/"].language == "fr" and records[f"{b}/"].language_source == "detected"
    assert records[f"{a}/"].language == "en" and records[f"{a}/"].language_source == "html"
    assert records[f"{b}/shop.html"].category == "e-commerce"
    assert records[f"{a}/docs/guide.html"].category == "docs"
    for r in records.values():
        assert (r.archive != "") == r.kept and len(r.phash) == 64 and len(r.content_hash) == 64
        if r.kept:
            assert (pages / r.archive).stat().st_size == r.archive_bytes > 0

    table = pq.read_table(pages / "manifest.parquet").to_pylist()
    assert {row["url"] for row in table if row["kept"]} == kept
    stats = json.loads((pages / "crawl_stats.json").read_text())
    assert stats["kept"] == 8 and stats["captured"] == 13
    assert stats["rejected"]["private_address"] == 5 and stats["rejected"]["non_html"] == 2
    assert stats["languages"] == {"en": 7, "fr": 1} and stats["pages_per_s"] > 0
    # the home page's image on 192.168.1.1: blocked in Chromium, and dropped from the archive
    assert stats["subresources_blocked"] == {"private_address": 1, "websocket": 1}

    assert stats["sites"] == {a.removeprefix("http://"): 6, b.removeprefix("http://"): 2}

    summary = invoke("pages", pages)
    for text in ("kept", "private_address 5", "robots_disallowed 1", "e-commerce 1", "fr 1"):
        assert text in summary


def test_a_finished_crawl_resamples_without_fetching(crawled: tuple, config_file: Path,
                                                     tmp_path: Path) -> None:
    sites, pages, _ = crawled
    copy = tmp_path / "pages"
    shutil.copytree(pages, copy)
    invoke("crawl", f"{sites.a}/", f"{sites.b}/", "--out", copy, "--config", config_file,
           "--sample", 4, "--max-domain-share", 0.5, *LOOPBACK)  # the sites are down: no fetch
    records = Manifest(copy).read()
    kept = [r for r in records if r.kept]
    assert len(kept) == 4 and max(sum(r.category == k.category for r in kept) for k in kept) <= 2
    assert {r.reason for r in records if not r.kept and r.archive} <= {"sampled_out",
                                                                      "domain_cap"}
    assert {r.url for r in kept} <= {r.url for r in Manifest(pages).read() if r.kept}


def test_generate_replays_the_archives_with_the_sites_shut_down(crawled: tuple, config_file: Path,
                                                                tmp_path: Path) -> None:
    sites, pages, _ = crawled
    assert not sites.servers
    out = tmp_path / "ds"
    invoke("generate", "--pages", pages, "--out", out, "--pairs", 4, "--no-diff", 2,
           "--max-pages", 4, "--workers", 1, "--config", config_file)
    rows = pq.read_table(sorted((out / "data").glob("*.parquet"))).to_pylist()
    stats = json.loads((out / "stats.json").read_text())
    assert stats["pages"]["loaded"] == 4 and not stats["pages"].get("skipped")
    assert sum(r["task_type"] == "visual_diff" for r in rows) >= 3
    controls = [r for r in rows if r["task_type"] == "no_diff"]
    assert len(controls) == 2 and all(r["pixel_diff"] == 0 for r in controls)
    kept = {r.final_url: r for r in Manifest(pages).read() if r.kept}
    for row in rows:
        assert row["url"] in kept and row["domain"] == kept[row["url"]].category


def test_replay_touches_no_server_and_repeats_pixel_for_pixel(crawled: tuple) -> None:
    """A tripwire server on the crawled site's own port sees no request while an archive is
    replayed twice, and the two renders are identical. The home page's archive had a request
    blocked at capture; replay fails it at once instead of waiting for it."""
    import http.server
    import threading
    from urllib.parse import urlsplit

    sites, pages, _ = crawled
    hits: list[str] = []

    class Tripwire(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            hits.append(self.path)
            self.send_error(500)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", urlsplit(sites.a).port), Tripwire)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    page = next(r for r in Manifest(pages).kept_pages() if r.url == f"{sites.a}/")
    cfg = load_config()

    async def twice() -> list[np.ndarray]:
        shots = []
        async with Renderer(cfg.browser, cfg.render) as renderer:
            for _ in range(2):
                loaded = await renderer.open(page)
                shots.append((await loaded.stable_screenshot()).pixels)
                await loaded.close()
        return shots

    try:
        first, second = asyncio.run(twice())
    finally:
        server.shutdown()
        server.server_close()
    assert hits == []
    assert np.array_equal(first, second)
    assert (first != 255).any(axis=2).mean() > 0.05  # the page, with its stylesheet and logo


def test_loopback_seeds_are_refused_without_an_allowance(sites: Sites, config_file: Path,
                                                         tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    invoke("crawl", f"{sites.a}/", f"{sites.b}/", "file:///etc/passwd", "data:text/html,hi",
           "--out", pages, "--config", config_file)
    assert outcomes(pages) == {f"{sites.a}/": "private_address",
                               f"{sites.b}/": "private_address",
                               "file:///etc/passwd": "not_http",
                               "data:text/html,hi": "not_http"}
    assert sum(sites.hits.values()) == 0  # refused before any connection, robots.txt included
    result = CliRunner().invoke(app, ["generate", "--pages", str(pages), "--out",
                                      str(tmp_path / "ds")])
    assert result.exit_code == 2 and "no kept pages" in " ".join(result.output.split())


def test_an_interrupted_crawl_resumes_without_refetching(sites: Sites, tmp_path: Path) -> None:
    """A page cap stops the first run with URLs still queued; the second run finishes the
    frontier. Every captured page is fetched exactly once by the crawler and once by Chromium."""
    cfg = load_config(overrides={"crawl": {**CONFIG["crawl"], "max_pages": 2,
                                           "allow_networks": ["127.0.0.0/8"],
                                           "allowed_hosts": ["127.0.0.1"]}})
    pages = tmp_path / "pages"
    first = crawl(cfg, [f"{sites.a}/"], pages)
    assert first["captured"] == 2 and first["queued"] > 0
    cfg.crawl.max_pages = 50
    second = crawl(cfg, [f"{sites.a}/"], pages)
    assert second["queued"] == 0 and second["captured"] == 7  # site A alone: B is off-site
    for record in Manifest(pages).read():
        path = record.final_url.removeprefix(sites.a)
        assert sites.hits[f"a:{path}"] == 2, path
    assert outcomes(pages)[f"{sites.b}/"] == "offsite"
    assert outcomes(pages)["http://10.0.0.1/admin"] == "offsite"  # never even resolved
    assert sites.hits["a:/slow.html"] == 1  # a timed-out page is not retried either
    # 192.168.1.1's image on the home page, the WebSocket internal.html opens
    assert second["subresources_blocked"] == {"host_not_allowed": 1, "websocket": 1}


def test_kill_9_mid_crawl_then_resume_refetches_no_captured_page(
        sites: Sites, config_file: Path, tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    command = [sys.executable, "-m", "spotdiff", "crawl", f"{sites.a}/", "--out", str(pages),
               "--config", str(config_file), "--allow-network", "127.0.0.0/8"]
    proc = subprocess.Popen([*command, "--concurrency", "1", "--delay", "0.5"],
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    manifest = pages / "manifest.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if manifest.exists() and len(manifest.read_text().splitlines()) >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the crawl ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # the CLI, its Playwright driver and Chromium
    proc.wait()
    before = {r.final_url for r in Manifest(pages).read()}
    assert len(before) >= 2 and not (pages / "manifest.parquet").exists()

    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    after = {r.final_url for r in Manifest(pages).read()}
    assert before < after and len(after) == 7
    for url in before:  # one fetch by the crawler, one load by Chromium: nothing again
        assert sites.hits[f"a:{url.removeprefix(sites.a)}"] == 2, url
