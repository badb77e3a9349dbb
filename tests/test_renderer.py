"""The renderer on real Chromium: determinism, blocking, and pages that hang, crash or leave."""

import asyncio
import io
import logging
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image

from spotdiff.config import BrowserConfig, RenderConfig
from spotdiff.records import Page
from spotdiff.renderer.browser import BrowserNotFound, choose_browser
from spotdiff.renderer.session import PageSkipped, Renderer, decode_png, foreign_urls
from tests.conftest import inline_style, run


async def _open_and(cfg: RenderConfig, url: str, action):
    async with Renderer(BrowserConfig(), cfg) as renderer:
        loaded = await renderer.open(Page(url=url))
        try:
            return await action(loaded)
        finally:
            await loaded.close()


def test_two_loads_are_pixel_identical_and_revert_restores(test_site):
    async def body():
        async with Renderer(BrowserConfig(), RenderConfig()) as renderer:
            shots = []
            for _ in range(2):
                loaded = await renderer.open(Page(url=test_site + "basic.html"))
                shots.append(await loaded.screenshot())
                await loaded.apply(inline_style("#headline", "color", "#ff0000"))
                changed = await loaded.screenshot()
                await loaded.revert()
                shots.append(await loaded.screenshot())
                await loaded.close()
            return shots, changed

    shots, changed = run(body())
    assert shots[0].pixels.shape == (800, 1280, 3)
    for other in shots[1:]:
        assert np.array_equal(shots[0].pixels, other.pixels)
    assert not np.array_equal(shots[0].pixels, changed.pixels)


def test_a_page_holds_still_after_its_stable_first_frame(test_site):
    """Its timers stop once the first frame is taken: a counter a timer turns stays put, while a
    change still shows at once and its revert restores the frame."""
    async def action(loaded):
        first = await loaded.stable_screenshot()
        await asyncio.sleep(0.6)  # four turns of the counter, were its timer running
        still = await loaded.shows(first)
        await loaded.apply(inline_style("#headline", "color", "#ff0000"))
        changed = await loaded.screenshot()
        await loaded.revert()
        return first, still, changed, await loaded.shows(first)

    first, still, changed, restored = run(_open_and(RenderConfig(), test_site + "ticker.html",
                                                    action))
    assert still and restored
    assert not np.array_equal(first.pixels, changed.pixels)


def test_screenshots_decode_to_the_rgb_pixels_pillow_reads(test_site):
    shot = run(_open_and(RenderConfig(), test_site + "basic.html", lambda p: p.screenshot()))
    with Image.open(io.BytesIO(shot.png)) as im:
        expected = np.asarray(im.convert("RGB"))
    assert shot.pixels.shape == (800, 1280, 3) and np.array_equal(shot.pixels, expected)
    rgba = io.BytesIO()
    Image.fromarray(np.dstack([expected, np.full(expected.shape[:2], 255, np.uint8)])).save(
        rgba, format="PNG")
    assert np.array_equal(decode_png(rgba.getvalue()), expected)


def test_requests_to_other_hosts_are_blocked(test_site):
    async def action(loaded):
        return await loaded.pw_page.evaluate(
            "fetch('http://example.invalid/x').then(() => 'loaded', () => 'blocked')")

    assert run(_open_and(RenderConfig(), test_site + "basic.html", action)) == "blocked"


def test_the_route_aborts_other_hosts_in_the_driver(test_site):
    """The route's pattern (matched in the Playwright driver) aborts a request to another host
    as blocked, before the resolver would fail it; requests to allowed hosts pass untouched."""
    async def action(loaded):
        failures = []
        loaded.pw_page.on("requestfailed", lambda r: failures.append((r.url, r.failure)))
        results = [await loaded.pw_page.evaluate(
            f"fetch('{url}', {{mode: 'no-cors'}}).then(() => 'loaded', () => 'blocked')")
            for url in (test_site + "basic.html", "http://example.invalid/x")]
        return results, failures

    results, failures = run(_open_and(RenderConfig(), test_site + "basic.html", action))
    assert results == ["loaded", "blocked"]
    assert [(url, failure.startswith("net::ERR_BLOCKED_BY_CLIENT")) for url, failure in failures] \
        == [("http://example.invalid/x", True)]


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000/a.css", "https://localhost/x?y#z", "http://user:pw@127.0.0.1/",
    "data:image/png;base64,AAAA", "http://127.0.0.1.example.com/", "http://example.com/127.0.0.1",
    "http://127.0.0.1@example.com/", "blob:http://127.0.0.1/id", "file:///etc/passwd",
    "http://10.0.0.1/x.png", "http://[::1]:8/x"])
@pytest.mark.parametrize("allowed", [["127.0.0.1", "localhost"], ["::1"], []])
def test_foreign_urls_are_the_urls_of_other_hosts(url, allowed):
    host = urlsplit(url).hostname or ""
    assert bool(foreign_urls(allowed).search(url)) == (
        not url.startswith("data:") and host not in allowed)


def test_a_page_that_hangs_is_skipped_with_a_reason(test_site):
    cfg = RenderConfig(load_timeout_s=1.5)
    with pytest.raises(PageSkipped) as err:
        run(_open_and(cfg, test_site + "hang", lambda loaded: loaded.screenshot()))
    assert err.value.reason == "page_timeout"


def test_a_page_that_navigates_away_is_skipped(test_site):
    async def action(loaded):
        await loaded.apply(inline_style("#headline", "color", "#ff0000"))
        await asyncio.sleep(1.0)
        return await loaded.screenshot()

    with pytest.raises(PageSkipped) as err:
        run(_open_and(RenderConfig(), test_site + "nav_away.html", action))
    assert err.value.reason == "navigated_away"


def test_a_crashed_renderer_is_skipped_and_the_browser_keeps_working(test_site):
    async def body():
        async with Renderer(BrowserConfig(), RenderConfig()) as renderer:
            loaded = await renderer.open(Page(url=test_site + "basic.html"))
            cdp = await loaded.context.new_cdp_session(loaded.pw_page)
            # the crashed renderer never answers this call
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(cdp.send("Page.crash"), 3)
            with pytest.raises(PageSkipped) as err:
                await loaded.screenshot()
            await loaded.close()
            again = await renderer.open(Page(url=test_site + "basic.html"))
            shot = await again.screenshot()
            await again.close()
            return err.value.reason, shot

    reason, shot = run(body())
    assert reason == "renderer_crashed"
    assert shot.pixels.std() > 0


def test_browser_choice_is_explicit_and_logged(caplog, test_site):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        with pytest.raises(BrowserNotFound, match="does not exist"):
            choose_browser(pw, BrowserConfig(executable_path="/nonexistent/chrome"))
        choice = choose_browser(pw, BrowserConfig())
    assert choice.source in ("playwright", "system")
    with caplog.at_level(logging.INFO, logger="spotdiff.browser"):
        run(_open_and(RenderConfig(), test_site + "basic.html", lambda loaded: loaded.screenshot()))
    assert any("rendering with" in r.message and choice.source in r.message
               for r in caplog.records)


def test_a_dead_browser_is_relaunched_for_the_next_page(test_site):
    async def body():
        async with Renderer(BrowserConfig(), RenderConfig()) as renderer:
            first = await renderer.open(Page(url=test_site + "basic.html"))
            await first.close()
            await renderer._browser.close()  # as if the browser process had died
            again = await renderer.open(Page(url=test_site + "basic.html"))
            shot = await again.screenshot()
            await again.close()
            return shot

    assert run(body()).pixels.std() > 0


@pytest.mark.parametrize(("allowed", "connections"), [(["127.0.0.1"], 0), (None, 1)])
def test_only_allowed_host_names_resolve(test_site, allowed, connections):
    """A WebSocket passes no request route; with allowed hosts, Chromium cannot even resolve
    another name (localhost here), so nothing connects. Allowing every host shows the same page
    does connect."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    accepted = []

    def accept() -> None:
        while True:
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    url = f"{test_site}websocket.html?port={listener.getsockname()[1]}"
    run(_open_and(RenderConfig(allowed_hosts=allowed), url, lambda _: asyncio.sleep(0.5)))
    listener.close()
    assert len(accepted) == connections
