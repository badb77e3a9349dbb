"""Utility scales discovered from a page's own stylesheets: parsing rules, and real Bootstrap and
Tailwind CSS read from pages loaded in Chromium."""

from __future__ import annotations

import hashlib
import time

import pytest

from spotdiff.mutators import stylesheets
from spotdiff.mutators.stylesheets import (
    Viewport,
    discover,
    family_of,
    length_px,
    media_holds,
    parse_sheet,
)
from spotdiff.records import Page, SheetText
from spotdiff.renderer.session import Renderer
from tests.conftest import run


def scales_of(css: str, viewport: Viewport = Viewport()) -> dict:  # noqa: B008
    found = discover([SheetText("", css)], viewport)
    return {(s.family, s.properties): [u.name for u in s.members] for s in found.scales}


def test_a_family_is_ordered_by_value_whatever_the_names():
    css = """.zz-big{font-weight:800}.zz-mid{font-weight:500!important}.zz-low{font-weight:200}
             .qq-a{color:#111}.qq-b{color:#eee}.qq-c{color:rgb(128 128 128 / 1)}"""
    scales = scales_of(css)
    assert scales[("zz", ("font-weight",))] == ["zz-low", "zz-mid", "zz-big"]
    assert scales[("qq", ("color",))] == ["qq-b", "qq-c", "qq-a"]  # light to dark


def test_only_rules_that_set_one_property_make_utilities():
    css = """.u-1{margin:1px}.u-2{margin:2px}.u-3{margin:3px;color:red;padding:0}
             .nav .u-4{margin:4px}.u-5:hover{margin:5px}"""
    assert scales_of(css) == {("u", ("margin",)): ["u-1", "u-2"]}


def test_twins_custom_properties_and_longhand_pairs_count_as_one_property():
    css = """:root{--brand: 13, 110, 253; --r: .5rem}
             .t-1{--o:1;color:rgba(var(--brand),var(--o))!important}.t-2{color:#000}
             .r-a{-webkit-border-radius:var(--r);border-radius:var(--r)}.r-b{border-radius:2px}
             .x-1{padding-left:4px;padding-right:4px}.x-2{padding-right:8px;padding-left:8px}
             .s-1{font-size:1rem;font-size:clamp(1rem, 2vw, 3rem)}.s-2{font-size:10px}"""
    found = discover([SheetText("", css)])
    by_name = {u.name: u for s in found.scales for u in s.members}
    assert by_name["t-1"].values == (("color", "rgba(13, 110, 253,1)"),)
    assert by_name["r-a"].values == (("border-radius", ".5rem"),)
    assert by_name["x-2"].values == (("padding-inline", "8px"),)
    assert by_name["s-1"].value("font-size").startswith("clamp(")
    assert length_px(by_name["s-1"].value("font-size"), viewport=Viewport(1280, 800)) == 25.6


def test_media_queries_are_read_at_the_render_viewport():
    css = """.f-1{font-size:calc(1.3rem + .6vw)}.f-2{font-size:1rem}
             @media (min-width:1200px){.f-1{font-size:1.75rem}}
             @media print{.f-2{font-size:40px}}
             @media (width >= 48rem){.w-a{width:1px}.w-b{width:2px}}"""
    wide = discover([SheetText("", css)], Viewport(1280, 800))
    narrow = discover([SheetText("", css)], Viewport(600, 800))
    assert {u.name: u.value("font-size") for s in wide.scales for u in s.members
            if s.family == "f"} == {"f-1": "1.75rem", "f-2": "1rem"}
    assert next(u for s in narrow.scales for u in s.members if u.name == "f-1").value(
        "font-size") == "calc(1.3rem + .6vw)"
    assert any(s.family == "w" for s in wide.scales)
    assert not any(s.family == "w" for s in narrow.scales)
    assert media_holds("screen and (max-width: 767.98px)", Viewport(600, 800))
    assert not media_holds("(prefers-color-scheme: dark)", Viewport())
    assert media_holds("(prefers-reduced-motion: reduce)", Viewport())
    assert length_px("calc(1.275rem + .3vw)", viewport=Viewport(1000, 800)) == pytest.approx(23.4)


def test_families_and_parse_cache():
    assert [family_of(n) for n in ("text-sm", "bg-red-500", "md:px-4", "border", "-mt-2")] == [
        "text", "bg-red", "md:px", "", "-mt"]
    sheet = SheetText("https://x/a.css", ".a-1{color:red}")
    assert parse_sheet(sheet) is parse_sheet(SheetText("https://x/a.css", ".a-1{color:red}"))
    assert parse_sheet(sheet) is not parse_sheet(SheetText("https://x/a.css", ".a-1{color:blue}"))


def large_sheet(prefix: str) -> str:
    """A sheet long enough to be cached on disk, as a framework's is."""
    rules = "".join(f".{prefix}-{i}{{margin-top:{i}px}}" for i in range(1000))
    assert len(rules) >= stylesheets.DISK_CACHE_MIN_CHARS
    return rules


def test_a_parse_is_loaded_back_from_disk_by_another_process(tmp_path, monkeypatch):
    """Workers and later runs read a sheet's parse from the disk cache instead of parsing it;
    a cache file that cannot be read is parsed again and replaced."""
    monkeypatch.setenv("SPOTDIFF_CACHE", str(tmp_path))
    sheet = SheetText("https://x/b.css", large_sheet("b"))
    stylesheets._parse_cached.cache_clear()
    parsed = parse_sheet(sheet)
    (cached,) = (tmp_path / "stylesheets").iterdir()

    def no_parsing(*_args, **_kwargs):
        raise AssertionError("parsed again")

    stylesheets._parse_cached.cache_clear()  # as a fresh process would start
    with monkeypatch.context() as patch:
        patch.setattr(stylesheets.tinycss2, "parse_stylesheet", no_parsing)
        assert parse_sheet(sheet) == parsed
    cached.write_bytes(b"not a pickle")
    stylesheets._parse_cached.cache_clear()
    assert parse_sheet(sheet) == parsed and cached.read_bytes() != b"not a pickle"


def test_the_disk_cache_keeps_the_most_recently_used_parses(tmp_path, monkeypatch):
    monkeypatch.setenv("SPOTDIFF_CACHE", str(tmp_path))
    monkeypatch.setattr(stylesheets, "DISK_CACHE_SHEETS", 2)
    stylesheets._parse_cached.cache_clear()
    small = SheetText("https://x/s.css", ".s-1{color:red}")
    parse_sheet(small)  # parsed in no time: kept in the process only
    assert not (tmp_path / "stylesheets").exists()
    for prefix in "cdce":  # c is used again after d: d is then the least recently used
        stylesheets._parse_cached.cache_clear()  # as another process would, from disk
        parse_sheet(SheetText(f"https://x/{prefix}.css", large_sheet(prefix)))
        time.sleep(0.05)
    kept = {p.name.split("-")[0] for p in (tmp_path / "stylesheets").iterdir()}
    digest = {k: hashlib.sha1(large_sheet(k).encode()).hexdigest() for k in "cde"}
    assert kept == {digest["c"], digest["e"]}


async def _page_scales(cfg, page: Page) -> tuple[list[SheetText], dict]:
    async with Renderer(cfg.browser, cfg.render) as renderer:
        loaded = await renderer.open(page)
        sheets = await loaded.stylesheets()
        await loaded.close()
    found = discover(sheets, Viewport(cfg.render.width, cfg.render.height))
    return sheets, {(s.family, s.properties): [u.name for u in s.members] for s in found.scales}


def test_bootstrap_scales_come_from_a_real_bootstrap_page(cfg, serve_corpus):
    page = next(p for p in serve_corpus([("bs5-examples", 34)]) if "album/" in p.url)
    sheets, scales = _page_scales_sync(cfg, page)
    assert any(s.url.endswith("bootstrap.min.css") for s in sheets)
    assert scales[("fw", ("font-weight",))][:4] == ["fw-light", "fw-normal", "fw-semibold",
                                                     "fw-bold"]
    assert scales[("fs", ("font-size",))] == ["fs-6", "fs-5", "fs-4", "fs-3", "fs-2", "fs-1"]
    assert scales[("lh", ("line-height",))] == ["lh-1", "lh-sm", "lh-base", "lh-lg"]
    assert scales[("px", ("padding-inline",))] == [f"px-{i}" for i in range(6)]
    assert scales[("opacity", ("opacity",))] == ["opacity-0", "opacity-25", "opacity-50",
                                                 "opacity-75", "opacity-100"]
    assert scales[("rounded", ("border-radius",))][:7] == [  # `rounded` heads its own family
        "rounded-0", "rounded-1", "rounded", "rounded-2", "rounded-3", "rounded-4", "rounded-5"]
    assert {"text-muted", "text-primary", "text-dark"} <= set(scales[("text", ("color",))])
    assert set(scales[("text", ("text-align",))]) == {"text-start", "text-center", "text-end"}
    assert scales[("shadow", ("box-shadow",))] == ["shadow-none", "shadow-sm", "shadow",
                                                   "shadow-lg"]


def test_tailwind_scales_come_from_a_real_tailwind_build(cfg, test_site):
    sheets, scales = _page_scales_sync(cfg, Page(url=test_site + "tailwind/index.html"))
    assert [s.url.rsplit("/", 1)[-1] for s in sheets if s.url] == ["tailwind.css"]
    assert scales[("text", ("font-size", "line-height"))] == [
        "text-xs", "text-sm", "text-base", "text-lg", "text-xl", "text-2xl", "text-3xl"]
    assert scales[("font", ("font-weight",))] == ["font-light", "font-normal", "font-medium",
                                                  "font-semibold", "font-bold", "font-extrabold"]
    assert scales[("tracking", ("letter-spacing",))][0] == "tracking-tighter"
    assert scales[("text-slate", ("color",))] == [f"text-slate-{n}" for n in
                                                  (50, 100, 200, 300, 400, 500, 600, 700, 800,
                                                   900)]
    assert scales[("border", ("border-width",))] == ["border-0", "border", "border-2",
                                                     "border-4", "border-8"]
    assert scales[("shadow", ("box-shadow",))] == ["shadow-none", "shadow-sm", "shadow",
                                                   "shadow-md", "shadow-lg", "shadow-xl"]
    leading = scales[("leading", ("line-height",))]
    assert leading.index("leading-tight") < leading.index("leading-6")  # 20px < 24px


def _page_scales_sync(cfg, page: Page) -> tuple[list[SheetText], dict]:
    return run(_page_scales(cfg, page))


def test_a_replayed_archive_gives_the_scales_of_its_own_copies(cfg, tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    from spotdiff.generator.sources import serve_directory

    pages_dir = tmp_path / "pages"
    with serve_directory(Path(__file__).parent / "pages") as base:
        subprocess.run([sys.executable, "-m", "spotdiff", "crawl", base + "tailwind/index.html",
                        "--out", str(pages_dir), "--allow-network", "127.0.0.0/8",
                        "--max-pages", "1", "--depth", "0"], check=True, capture_output=True)
    (record,) = [json.loads(line) for line in (pages_dir / "manifest.jsonl").open()]
    page = Page(url=record["final_url"], archive=pages_dir / record["archive"])
    sheets, scales = _page_scales_sync(cfg, page)  # every server is shut down by now
    assert sheets[0].url.endswith("/tailwind.css") and len(sheets[0].text) > 10_000
    assert ("font", ("font-weight",)) in scales
