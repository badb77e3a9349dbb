"""Deterministic page sessions: load a page once, then screenshot, mutate and revert it many times.

Every browser call runs under a deadline, so a page that hangs, crashes its renderer or navigates
away raises `PageSkipped` with a reason instead of stalling the run.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import math
import re
import time
from collections import Counter
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from typing import Any, TypeVar

import numpy as np
import pyspng
from playwright.async_api import (
    Browser,
    BrowserContext,
    Playwright,
    Response,
    Route,
    async_playwright,
)
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page as PwPage
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from spotdiff.config import BrowserConfig, CandidateConfig, RenderConfig
from spotdiff.records import (
    Box,
    Element,
    LayoutProbe,
    Mutation,
    Page,
    RuleTarget,
    SheetText,
    Shot,
)
from spotdiff.renderer.browser import BrowserChoice, launch_options
from spotdiff.renderer.mechanisms import RELOADING_MECHANISMS, script_table

log = logging.getLogger("spotdiff.renderer")

PAGE_SCRIPT = (files("spotdiff.renderer") / "page_script.js").read_text(encoding="utf-8")
NO_MOTION_CSS = (
    "*,*::before,*::after{transition:none!important;animation:none!important;"
    "caret-color:transparent!important;scroll-behavior:auto!important}"
)
# The page script is a function of the mechanism table: it is called inside the settle function
SETTLE_SCRIPT = f"""async ({{css, table}}) => {{
  await document.fonts.ready;
  const style = document.createElement("style");
  style.textContent = css;
  (document.head || document.documentElement).appendChild(style);
  ({PAGE_SCRIPT})(table);
  window.scrollTo(0, 0);
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
}}"""
# n frames of the page's own requestAnimationFrame (the clock's, whose callbacks drive its
# script animations), or of the browser's once the page's clock is paused
WAIT_FRAMES = """([n, paused]) => new Promise(done => {
  const frame = paused ? window.__spotdiffFrame : requestAnimationFrame;
  const step = k => (k ? frame(() => step(k - 1)) : done());
  step(n);
})"""
# what the crawler's classifier reads of a page
PAGE_TEXT = """() => ({title: document.title || '',
  text: document.body ? document.body.innerText.slice(0, 5000) : ''})"""
# what the crawler's filters and manifest read of a page
PAGE_SUMMARY = """() => {
  const vw = innerWidth, vh = innerHeight;
  let area = 0;  // viewport area under embeds; overlaps count twice, capped at the viewport
  const embeds = document.querySelectorAll('iframe, video, canvas, embed, object');
  for (const e of embeds) {
    const r = e.getBoundingClientRect();
    area += Math.max(0, Math.min(r.right, vw) - Math.max(r.left, 0))
          * Math.max(0, Math.min(r.bottom, vh) - Math.max(r.top, 0));
  }
  const root = document.documentElement;
  return {
    title: document.title || '', lang: root.getAttribute('lang') || '',
    height: document.body ? document.body.scrollHeight : root.scrollHeight,
    elements: document.getElementsByTagName('*').length,
    iframes: document.getElementsByTagName('iframe').length,
    videos: document.getElementsByTagName('video').length,
    canvases: document.getElementsByTagName('canvas').length,
    embedArea: Math.min(1, area / (vw * vh)),
    text: document.body ? document.body.innerText.slice(0, 5000) : '',
  };
}"""
NO_POPUPS = "window.open = () => null;"
# Before Playwright's clock replaces it (its init script comes later): the browser's own frame
# callback, which still runs while the page's clock is paused
KEEP_FRAME = "window.__spotdiffFrame = window.requestAnimationFrame.bind(window);"
T = TypeVar("T")


# Browser errors that say why a page is unusable, and the reason they are counted under
ERROR_REASONS = {
    "net::ERR_TOO_MANY_REDIRECTS": "too_many_redirects",
    "net::ERR_BLOCKED_BY_CLIENT": "host_not_allowed",  # outside render.allowed_hosts
    "net::ERR_NAME_NOT_RESOLVED": "unreachable",  # host_not_allowed under allowed_hosts
    "net::ERR_CONNECTION_REFUSED": "unreachable",
    "net::ERR_CONNECTION_RESET": "unreachable",
    "net::ERR_ADDRESS_UNREACHABLE": "unreachable",
    "Execution context was destroyed": "navigated_away",  # a new document replaced it
}


def error_reason(message: str, confined: bool) -> str:
    """`confined`: render.allowed_hosts is set, so Chromium resolves no other name and a name
    that does not resolve is one it was not allowed (e.g. a redirect to another site)."""
    reason = next((reason for text, reason in ERROR_REASONS.items() if text in message),
                  "browser_error")
    if confined and "net::ERR_NAME_NOT_RESOLVED" in message:
        return "host_not_allowed"
    return reason


def foreign_urls(allowed_hosts: list[str]) -> re.Pattern[str]:
    """URLs whose host is not one of `allowed_hosts` (data: URLs pass). Matched in the
    Playwright driver, so requests to allowed hosts never wait on a round trip to Python."""
    hosts = "|".join(re.escape(f"[{h}]" if ":" in h else h) for h in allowed_hosts) or "(?!)"
    return re.compile(rf"^(?!data:|[a-zA-Z][a-zA-Z0-9+.-]*://(?:[^/?#]*@)?(?:{hosts})"
                      r"(?::\d*)?(?:[/?#]|$))")


class PageSkipped(Exception):
    """The page cannot be used; `reason` is the counted stats key."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class PageText:
    title: str
    text: str  # the visible text, its first 5,000 characters


@dataclass(frozen=True)
class PageSummary:
    title: str
    lang: str  # the document's `lang`, "" when it declares none
    height: int  # of the whole document, px
    elements: int
    iframes: int
    videos: int
    canvases: int
    embed_area: float  # share of the viewport under iframes, videos, canvases and embeds
    text: str  # the visible text, its first 5,000 characters


@dataclass(frozen=True)
class Applied:
    """What applying one mutation did: the box of the region it changes before and after
    (the element's, or its parent's for a DOM edit), whether the element's selector still
    resolves, and the value the page computes now (or what a DOM edit did); `error` says why
    nothing was applied."""

    error: str = ""
    before: Box = (0, 0, 0, 0)
    after: Box = (0, 0, 0, 0)
    resolves: bool = False
    computed: str = ""


def decode_png(png: bytes) -> np.ndarray:
    """HxWx3 uint8 RGB pixels. libspng decodes a 1280x800 screenshot in 2.2 ms of CPU, Pillow
    in 7.0 (the same pixels)."""
    return pyspng.load(png, format="RGB")


def _same_frame(a: bytes, b: bytes) -> bool:
    # identical bytes are the common case; else the pixels are compared
    return a == b or bool(np.array_equal(decode_png(a), decode_png(b)))


class LoadedPage:
    """One page, loaded and settled; mutations are applied and reverted in place."""

    def __init__(self, page: Page, context: BrowserContext, pw_page: PwPage, cfg: RenderConfig):
        self.page = page
        self.context = context
        self.pw_page = pw_page
        self.cfg = cfg
        self.failure: str | None = None
        self.timings: Counter[str] = Counter()  # seconds spent capturing and decoding
        self._revert_pending = False
        self._reloading_applied = False  # since the last revert
        self._paused = False  # the page's clock: see stable_screenshot
        self.language = ""
        self._cdp: Any = None
        self._css: dict[str, Response] = {}  # stylesheet responses by URL, for stylesheets()
        pw_page.on("response", self._on_response)
        pw_page.on("crash", lambda _: self._fail("renderer_crashed"))
        pw_page.on("framenavigated", self._on_navigation)

    def _fail(self, reason: str) -> None:
        self.failure = self.failure or reason

    def _on_response(self, response: Response) -> None:
        if response.request.resource_type == "stylesheet":
            self._css[response.url] = response

    async def stylesheets(self) -> list[SheetText]:
        """The stylesheets the page applies, in document order, with their text (a linked
        sheet's from its response: live, or the archive's copy under replay)."""
        start = time.perf_counter()
        found = await self._call(self.pw_page.evaluate("() => window.__spotdiff.sheets()"))
        out = []
        for sheet in found:
            text = sheet["text"]
            if sheet["href"]:
                response = self._css.get(sheet["href"])
                try:
                    text = await asyncio.wait_for(response.text(), 10) if response else ""
                except (asyncio.TimeoutError, PlaywrightError, UnicodeDecodeError):
                    text = ""  # a body the browser no longer holds: no scales from it
            if text:
                out.append(SheetText(sheet["href"], text, sheet["media"]))
        self.timings["stylesheets"] += time.perf_counter() - start
        return out

    async def rule_targets(self, properties: list[str]) -> list[RuleTarget]:
        """Rules that declare one of `properties` and whose selector matches one element."""
        found = await self._call(self.pw_page.evaluate(
            "p => window.__spotdiff.ruleTargets(p)", properties))
        return [RuleTarget(t["selector"], t["ruleSelector"], t["rule"], tuple(t["properties"]))
                for t in found]

    def _on_navigation(self, frame: Any) -> None:
        if self._cdp is not None and frame == self.pw_page.main_frame:
            self._fail("navigated_away")

    async def _call(self, what: Awaitable[T], timeout: float | None = None) -> T:
        if self.failure:
            if asyncio.iscoroutine(what):
                what.close()  # never sent
            raise PageSkipped(self.failure)
        try:
            result = await asyncio.wait_for(what, timeout or self.cfg.load_timeout_s)
        except asyncio.TimeoutError as e:
            # a call the page's navigating away left hanging counts as the navigation
            raise PageSkipped(self.failure or "page_timeout") from e
        except PlaywrightTimeoutError as e:  # Playwright's own deadline (a navigation's)
            raise PageSkipped(self.failure or "page_timeout", str(e).splitlines()[0]) from e
        except PlaywrightError as e:
            reason = self.failure or error_reason(str(e), self.cfg.allowed_hosts is not None)
            raise PageSkipped(reason, str(e).splitlines()[0]) from e
        if self.failure:
            raise PageSkipped(self.failure)
        return result

    async def settle(self) -> None:
        p = self.pw_page
        start = time.perf_counter()
        await self._call(p.clock.set_fixed_time(self._frozen_time()))
        response = await self._call(p.goto(self.page.url, wait_until="load"))
        if response is not None and response.status >= 400:
            raise PageSkipped("http_error", str(response.status))
        loaded = time.perf_counter()
        # one round trip for fonts, motion off, the page script, scroll and two frames, while
        # the CDP session opens
        self._cdp, _ = await self._call(asyncio.gather(
            self.context.new_cdp_session(p),
            p.evaluate(SETTLE_SCRIPT, {"css": NO_MOTION_CSS, "table": script_table()})))
        self.timings["navigate"] += loaded - start
        self.timings["settle"] += time.perf_counter() - loaded

    def _frozen_time(self) -> datetime:
        return datetime.fromisoformat(self.cfg.frozen_time.replace("Z", "+00:00"))

    async def evaluate(self, script: str, arg: Any = None) -> Any:
        return await self._call(self.pw_page.evaluate(script, arg))

    async def page_text(self) -> PageText:
        found = await self._call(self.pw_page.evaluate(PAGE_TEXT))
        return PageText(found["title"], found["text"])

    async def summary(self) -> PageSummary:
        found = await self._call(self.pw_page.evaluate(PAGE_SUMMARY))
        return PageSummary(
            title=found["title"], lang=found["lang"], height=int(found["height"]),
            elements=found["elements"], iframes=found["iframes"], videos=found["videos"],
            canvases=found["canvases"], embed_area=float(found["embedArea"]),
            text=found["text"])

    async def document_language(self) -> str:
        """The document's `lang` ("" when it declares none)."""
        return await self._call(self.pw_page.evaluate("() => document.documentElement.lang || ''"))

    async def elements(self, candidates: CandidateConfig,
                       properties: Sequence[str]) -> list[Element]:
        """The visible, uncovered candidate elements in the viewport, with the computed
        `properties` of each."""
        # one JSON string crosses the driver ~3x faster than the same listing as a JS object,
        # which Playwright serialises value by value (measured: 160 against 520 ms a page)
        found = json.loads(await self._call(self.pw_page.evaluate(
            "o => JSON.stringify(window.__spotdiff.collect(o))", {
                "minWidth": candidates.min_width, "minHeight": candidates.min_height,
                "maxAreaFraction": candidates.max_area_fraction,
                "maxElements": candidates.max_elements, "properties": list(properties)})))
        self.language = found["language"] or self.page.language or ""  # else a crawl's guess
        return [
            Element(
                index=e["index"], selector=e["selector"], xpath=e["xpath"], tag=e["tag"],
                kind=e["kind"], text=e["text"], landmark=e["landmark"], box=tuple(e["box"]),
                flags=frozenset(e["flags"]), styles=e["styles"],
                classes=tuple(e["classes"]), src=e["src"], near=e["near"],
                section=e["section"], ink=tuple(e["ink"]),
            )
            for e in found["elements"]
        ]

    async def _png(self) -> bytes:
        # CDP's speed-optimised PNG: the same pixels as page.screenshot(), about twice as fast.
        await self._flush_revert()
        start = time.perf_counter()
        data = await self._call(self._cdp.send(
            "Page.captureScreenshot", {"format": "png", "optimizeForSpeed": True}))
        self.timings["screenshot"] += time.perf_counter() - start
        return base64.b64decode(data["data"])

    def _decode(self, png: bytes) -> Shot:
        start = time.perf_counter()
        shot = Shot(png=png, pixels=decode_png(png))
        self.timings["decode"] += time.perf_counter() - start
        return shot

    async def screenshot(self) -> Shot:
        return self._decode(await self._png())

    async def stable_screenshot(self, attempts: int = 10, frames: int = 2) -> Shot:
        """A screenshot that a later one repeats exactly: pages still moving by script (charts,
        carousels) would otherwise make every pair look contaminated. Each retry waits
        `frames` animation frames: script-driven motion (charts, rAF loops) shows by then.
        Then the page's clock is paused: its timers and animation frames run no more, so only
        a mutation changes it (a carousel cannot turn between a pair's shots), and a page that
        redraws every frame under the frozen clock (a chart library's animation loop) stops
        keeping a core busy."""
        start = time.perf_counter()
        png = await self._png()
        for _ in range(attempts):
            await self._call(self.pw_page.evaluate(WAIT_FRAMES, [frames, self._paused]))
            again = await self._png()
            if _same_frame(again, png):
                if self._paused:
                    self.timings["stable_shot"] += time.perf_counter() - start
                    return self._decode(again)
                await self._call(self.pw_page.clock.pause_at(self._frozen_time()))
                self._paused = True
                # a timer may have fired between that shot and the pause: one more, paused
                again = await self._png()
                if _same_frame(again, png):
                    self.timings["stable_shot"] += time.perf_counter() - start
                    return self._decode(again)
            png = again
        raise PageSkipped("unstable", "the page keeps changing by itself")

    async def apply(self, mutation: Mutation, read: str | None = None) -> Applied:
        """Make `mutation`'s change on the page and wait two frames; `read`: the computed
        property a class swap or rule edit is checked by (default: the mutation's property)."""
        self._reloading_applied |= mutation.mechanism in RELOADING_MECHANISMS
        found = await self._call(self.pw_page.evaluate("m => window.__spotdiff.apply(m)",
                                                       self._payload(mutation, read)))
        if found.get("error"):
            return Applied(error=found["error"])
        return Applied(before=tuple(found["before"]), after=tuple(found["after"]),
                       resolves=found["resolves"], computed=found["computed"])

    async def probe(self, mutation: Mutation) -> LayoutProbe | None:
        """The layout `mutation` would give, read without drawing a frame and undone at once;
        None when it cannot be applied (the try itself will say why). Only for mechanisms
        that change the element in place (`region: element`, no reload)."""
        found = await self._call(self.pw_page.evaluate("m => window.__spotdiff.probe(m)",
                                                       self._payload(mutation)))
        if found.get("error"):
            return None
        def far(shift: float) -> float:  # -1: the page script found more or fewer boxes
            return math.inf if shift < 0 else shift

        return LayoutProbe(others_shift=far(found["othersShift"]), box_shift=found["boxShift"],
                           text_shift=far(found["textShift"]),
                           glyphs_change=found["glyphsChange"])

    def _payload(self, mutation: Mutation, read: str | None = None) -> dict[str, object]:
        """The page script's view of a mutation; it carries the pending revert."""
        payload = {
            "selector": mutation.element.selector, "mechanism": mutation.mechanism,
            "property": mutation.property, "value": mutation.css_value or mutation.new_value,
            "read": read or mutation.property, "oldClass": mutation.old_class,
            "newClass": mutation.new_class, "rule": mutation.rule,
            "revertFirst": self._revert_pending}
        self._revert_pending = False
        return payload

    async def revert(self, first_frame: Shot | None = None) -> bool:
        """Undo every applied mutation; returns whether the page shows `first_frame` again.
        After a mechanism that reloads content (an image swapped back, a chart reacting to
        layout) the page can fetch, decode or redraw again: its first frame is waited for.
        Else the undo is sent with the next apply, or before the next screenshot, saving a
        round trip per try."""
        self._revert_pending = True
        reloading, self._reloading_applied = self._reloading_applied, False
        if not reloading or first_frame is None:
            return True
        for _ in range(5):
            if await self.shows(first_frame):
                return True
            await asyncio.sleep(0.1)
        return False

    async def shows(self, shot: Shot) -> bool:
        """Whether the page's frame now is exactly `shot`."""
        png = await self._png()
        # the same bytes are the same pixels: decode only to tell a re-encoding from a change
        return png == shot.png or bool(np.array_equal(self._decode(png).pixels, shot.pixels))

    async def _flush_revert(self) -> None:
        if self._revert_pending:
            await self._call(self.pw_page.evaluate("() => window.__spotdiff.revert()"))
            self._revert_pending = False

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.context.close(), 10)
        except (asyncio.TimeoutError, PlaywrightError) as e:
            log.warning("closing %s failed: %s", self.page.url, e)


class Renderer:
    """Owns Playwright and one browser; opens pages in fresh contexts, relaunches a dead browser."""

    def __init__(self, browser_cfg: BrowserConfig, render_cfg: RenderConfig):
        self.browser_cfg = browser_cfg
        self.cfg = render_cfg
        self._pw: Playwright | None = None
        self._browser: Browser | None = None
        self.choice: BrowserChoice | None = None

    async def __aenter__(self) -> Renderer:
        self._pw = await async_playwright().start()
        await self._launch()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._browser is not None:
            with contextlib.suppress(asyncio.TimeoutError, PlaywrightError):
                await asyncio.wait_for(self._browser.close(), 15)
        if self._pw is not None:
            await self._pw.stop()

    def describe(self) -> str:
        """Which Chromium renders, and its version (recorded in stats and the dataset card)."""
        if self.choice is None or self._browser is None:
            return "unknown"
        return f"{self.choice.describe()}, version {self._browser.version}"

    async def _launch(self) -> None:
        assert self._pw is not None
        options, self.choice = launch_options(self._pw, self.browser_cfg, self.cfg.allowed_hosts)
        self._browser = await self._pw.chromium.launch(**options)

    async def _ensure_browser(self) -> Browser:
        if self._browser is None or not self._browser.is_connected():
            log.warning("browser is gone; launching a new one")
            await self._launch()
        assert self._browser is not None
        return self._browser

    @staticmethod
    async def _abort(route: Route) -> None:
        await route.abort("blockedbyclient")

    async def new_context(self, **options: Any) -> BrowserContext:
        """A fresh context at the configured viewport; `options` add to Playwright's own
        (e.g. HAR recording). Downloads are never accepted."""
        browser = await self._ensure_browser()
        try:
            context = await asyncio.wait_for(browser.new_context(
                viewport={"width": self.cfg.width, "height": self.cfg.height},
                device_scale_factor=1, accept_downloads=False, reduced_motion="reduce",
                **options,
            ), self.cfg.load_timeout_s)
            # pop-ups are never rendered; a page whose pop-ups open pop-ups would otherwise
            # keep the machine busy loading them until each is closed
            await context.add_init_script(NO_POPUPS + KEEP_FRAME)
            return context
        except (asyncio.TimeoutError, PlaywrightError) as e:
            raise PageSkipped("browser_error", str(e).splitlines()[0]) from e

    async def load(self, context: BrowserContext, page: Page) -> LoadedPage:
        """Load `page` in `context` (routes already set) and settle it; on failure the context
        is closed and PageSkipped raised."""
        loaded: LoadedPage | None = None
        try:
            pw_page = await context.new_page()
            pw_page.on("dialog", lambda d: asyncio.ensure_future(d.dismiss()))
            # pop-ups are never rendered, and pop-ups opening more would eat the machine
            context.on("page", lambda other: other is pw_page or asyncio.ensure_future(
                other.close()))
            loaded = LoadedPage(page, context, pw_page, self.cfg)
            await loaded.settle()
            return loaded
        except BaseException:
            if loaded is not None:
                await loaded.close()
            else:
                await context.close()
            raise

    async def open(self, page: Page) -> LoadedPage:
        """Load `page` in a fresh context and settle it; raises PageSkipped on failure. A page
        with an archive is replayed from it alone: any request the archive lacks fails."""
        # A service worker's requests would bypass the archive or the allowed-hosts route
        confined = page.archive is not None or self.cfg.allowed_hosts is not None
        context = await self.new_context(service_workers="block" if confined else "allow")
        try:
            if page.archive is not None:
                await context.route_from_har(page.archive, not_found="abort")
            elif self.cfg.allowed_hosts is not None:
                await context.route(foreign_urls(self.cfg.allowed_hosts), self._abort)
        except BaseException as e:
            await context.close()
            if isinstance(e, PlaywrightError):
                raise PageSkipped("archive_unreadable", str(e).splitlines()[0]) from e
            raise
        try:
            return await self.load(context, page)
        except PageSkipped as e:
            if page.archive is not None and e.reason == "browser_error":
                raise PageSkipped("replay_failed", str(e)) from e  # the document is not in it
            raise
