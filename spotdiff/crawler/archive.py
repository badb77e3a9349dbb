"""Capture a page once in Chromium with everything it loads, as a HAR that replays it offline,
and measure what the filters and the manifest need."""

from __future__ import annotations

import asyncio
import json
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Route, WebSocketRoute

from spotdiff.crawler.policy import SCHEMES, AddressPolicy, Refused, host_of
from spotdiff.records import Page
from spotdiff.renderer.session import PageSkipped, Renderer


def drop_failed_entries(archive: Path) -> int:
    """Remove the requests that never got a response (blocked, refused, failed) from a HAR:
    replaying such an entry stalls the page, while a request missing from the archive fails at
    once. Returns how many were removed."""
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as z:
            members = {name: z.read(name) for name in z.namelist()}
        har = json.loads(members["har.har"])
    else:
        har = json.loads(archive.read_text(encoding="utf-8"))
    entries = har["log"]["entries"]
    har["log"]["entries"] = [e for e in entries if e["response"].get("status", -1) > 0]
    removed = len(entries) - len(har["log"]["entries"])
    if removed:
        text = json.dumps(har, ensure_ascii=False)
        if archive.suffix == ".zip":
            members["har.har"] = text.encode()
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
                for name, data in members.items():
                    z.writestr(name, data)
        else:
            archive.write_text(text, encoding="utf-8")
    return removed


@dataclass
class Capture:
    title: str
    lang: str
    page_height: int
    element_count: int
    iframes: int
    videos: int
    canvases: int
    embed_area: float
    text: str
    viewport: np.ndarray  # the first viewport as rendered, RGB
    archive_bytes: int


class Capturer:
    """Loads pages as generation will (frozen clock, fonts, no motion) while Chromium records a
    HAR; subresources go through the same address policy as the crawler's own requests."""

    def __init__(self, renderer: Renderer, policy: AddressPolicy, har_content: str,
                 timeout_s: float) -> None:
        self.renderer = renderer
        self.policy = policy
        self.har_content = har_content
        self.timeout_s = timeout_s
        self.blocked: Counter[str] = Counter()  # subresources refused, by reason

    async def _guard(self, route: Route) -> None:
        url = route.request.url
        scheme = urlsplit(url).scheme
        if scheme in ("data", "blob"):
            await route.continue_()
            return
        reason = "not_http" if scheme not in SCHEMES else await self.policy.verdict(host_of(url))
        if reason is None:
            await route.continue_()
        else:
            self.blocked[reason] += 1
            await route.abort("blockedbyclient")

    async def _refuse_socket(self, socket: WebSocketRoute) -> None:
        # WebSockets bypass request routing, and an archive could not replay them anyway
        self.blocked["websocket"] += 1
        await socket.close(code=1008, reason="no WebSockets while archiving")

    def archive_name(self, key: str) -> str:
        return f"{key}.har.zip" if self.har_content == "attach" else f"{key}.har"

    async def capture(self, url: str, dest: Path) -> Capture:
        """Raises Refused('capture_timeout' | 'capture_failed') and leaves no archive then."""
        try:
            return await asyncio.wait_for(self._capture(url, dest), self.timeout_s)
        except asyncio.TimeoutError as e:
            dest.unlink(missing_ok=True)
            raise Refused("capture_timeout", url) from e
        except (PageSkipped, PlaywrightError) as e:
            dest.unlink(missing_ok=True)
            raise Refused("capture_failed", f"{url}: {e}") from e

    async def _capture(self, url: str, dest: Path) -> Capture:
        context = await self.renderer.new_context(  # service workers would bypass routing
            record_har_path=dest, record_har_content=self.har_content, record_har_mode="minimal",
            service_workers="block")
        try:
            await context.route("**/*", self._guard)
            await context.route_web_socket("**/*", self._refuse_socket)
        except BaseException:
            await context.close()
            raise
        loaded = await self.renderer.load(context, Page(url=url))
        try:
            found = await loaded.summary()
            shot = await loaded.screenshot()
        finally:
            await loaded.close()  # closing the context writes the HAR
        await asyncio.to_thread(drop_failed_entries, dest)
        return Capture(
            title=found.title, lang=found.lang, page_height=found.height,
            element_count=found.elements, iframes=found.iframes, videos=found.videos,
            canvases=found.canvases, embed_area=found.embed_area, text=found.text,
            viewport=shot.pixels,
            archive_bytes=dest.stat().st_size if dest.exists() else 0,
        )
