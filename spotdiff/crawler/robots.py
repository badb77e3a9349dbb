"""robots.txt, read once per origin with the standard library's parser."""

from __future__ import annotations

import asyncio
from urllib.robotparser import RobotFileParser

from spotdiff.crawler.fetch import Fetcher
from spotdiff.crawler.policy import POLICY_REASONS, Refused, host_of, origin_of


class Robots:
    """`allowed(url)` for the crawler's user agent; a missing robots.txt (4xx) allows all, an
    unreachable one (5xx, errors) disallows all, as the robots.txt standard (RFC 9309) says."""

    def __init__(self, fetcher: Fetcher, user_agent: str) -> None:
        self.fetcher = fetcher
        self.agent = user_agent.split("/", 1)[0]  # the product token: "spotdiff"
        self._parsers: dict[str, RobotFileParser] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def parser(self, origin: str) -> RobotFileParser:
        lock = self._locks.setdefault(origin, asyncio.Lock())
        async with lock:
            if origin not in self._parsers:
                self._parsers[origin] = await self._read(origin)
        return self._parsers[origin]

    async def _read(self, origin: str) -> RobotFileParser:
        parser = RobotFileParser(f"{origin}/robots.txt")
        try:
            response = await self.fetcher.get(parser.url, html_only=False)
        except Refused as e:
            if e.reason in POLICY_REASONS:
                raise  # the whole origin is refused, not just its robots.txt
            parser.disallow_all = True
            return parser
        if response.status >= 500:
            parser.disallow_all = True
        elif response.status >= 400:
            parser.allow_all = True
        else:
            parser.parse(response.text.splitlines())
        delay = parser.crawl_delay(self.agent)
        if delay:
            self.fetcher.pacer.slow_down(host_of(origin), float(delay))
        return parser

    async def allowed(self, url: str) -> bool:
        return (await self.parser(origin_of(url))).can_fetch(self.agent, url)

    async def sitemaps(self, origin: str) -> list[str]:
        return (await self.parser(origin)).site_maps() or []
