"""The renderer on real Chromium: determinism, blocking, and pages that hang, crash or leave."""

import asyncio
import logging

import numpy as np
import pytest

from spotdiff.config import BrowserConfig, RenderConfig
from spotdiff.records import Page
from spotdiff.renderer.browser import BrowserNotFound, choose_browser
from spotdiff.renderer.session import PageSkipped, Renderer
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


def test_requests_to_other_hosts_are_blocked(test_site):
    async def action(loaded):
        return await loaded.pw_page.evaluate(
            "fetch('http://example.invalid/x').then(() => 'loaded', () => 'blocked')")

    assert run(_open_and(RenderConfig(), test_site + "basic.html", action)) == "blocked"


def test_a_page_that_hangs_is_skipped_with_a_reason(test_site):
    cfg = RenderConfig(load_timeout_s=1.5)
    with pytest.raises(PageSkipped) as err:
        run(_open_and(cfg, test_site + "hang", lambda loaded: loaded.screenshot()))
    assert err.value.reason == "page_timeout"


def test_a_page_that_navigates_away_is_skipped(test_site):
    async def action(loaded):
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
