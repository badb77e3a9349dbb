"""A minimum interval between two requests to the same host."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict


class Pacer:
    def __init__(self, min_interval_s: float) -> None:
        self.min_interval_s = min_interval_s
        self._intervals: dict[str, float] = {}
        self._next: dict[str, float] = defaultdict(float)
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def slow_down(self, host: str, interval_s: float) -> None:
        """A host asking for more time between requests (robots.txt Crawl-delay) gets it, from
        now on."""
        self._intervals[host] = max(interval_s, self._intervals.get(host, 0.0))
        self._next[host] = max(self._next[host], time.monotonic() + interval_s)

    async def turn(self, host: str) -> None:
        """Wait until `host` may be sent the next request."""
        async with self._locks[host]:
            now = time.monotonic()
            if self._next[host] > now:
                await asyncio.sleep(self._next[host] - now)
            interval = max(self.min_interval_s, self._intervals.get(host, 0.0))
            self._next[host] = time.monotonic() + interval
