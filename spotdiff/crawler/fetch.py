"""HTTP fetching with a safety check on every redirect hop, a size cap, a time cap and a
content-type check. Redirects are followed here, hop by hop, and recorded."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import httpx

from spotdiff.crawler.pacing import Pacer
from spotdiff.crawler.policy import AddressPolicy, Refused, host_of, normalize

HTML_TYPES = ("text/html", "application/xhtml+xml")
REDIRECTS = (301, 302, 303, 307, 308)


@dataclass
class Response:
    url: str  # as asked
    final_url: str
    status: int
    content_type: str
    body: bytes
    redirects: list[str] = field(default_factory=list)  # every URL before final_url

    @property
    def text(self) -> str:
        return self.body.decode(self.encoding, errors="replace")

    @property
    def encoding(self) -> str:
        for part in self.content_type.split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                return value.strip("\"'")
        return "utf-8"


def new_client(user_agent: str) -> httpx.AsyncClient:
    # trust_env=False: an environment proxy would connect on our behalf, past the address check.
    return httpx.AsyncClient(headers={"User-Agent": user_agent}, follow_redirects=False,
                             trust_env=False, timeout=httpx.Timeout(10.0))


class Fetcher:
    def __init__(self, client: httpx.AsyncClient, policy: AddressPolicy, pacer: Pacer,
                 max_bytes: int, timeout_s: float, max_redirects: int) -> None:
        self.client = client
        self.policy = policy
        self.pacer = pacer
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.max_redirects = max_redirects
        self.requests = 0

    async def get(self, url: str, html_only: bool = True) -> Response:
        """GET `url`, following redirects; raises Refused with the reason it cannot be used.
        The time cap covers the exchanges, not the waits for a host's turn."""
        hops: list[str] = []
        current = url
        budget = self.timeout_s
        while True:
            await self.policy.check(current)  # before any connection, on every hop
            await self.pacer.turn(host_of(current))
            started = time.monotonic()
            try:
                result = await asyncio.wait_for(self._exchange(current, html_only), budget)
            except asyncio.TimeoutError as e:
                raise Refused("timeout", current) from e
            except httpx.HTTPError as e:
                raise Refused("fetch_error", f"{current}: {type(e).__name__}") from e
            budget -= time.monotonic() - started
            if isinstance(result, Response):
                result.url, result.redirects = url, hops
                return result
            if len(hops) >= self.max_redirects:
                raise Refused("too_many_redirects", url)
            hops.append(current)
            current = normalize(result, current)

    async def _exchange(self, url: str, html_only: bool) -> Response | str:
        """One request: the response, or the Location it redirects to."""
        self.requests += 1
        async with self.client.stream("GET", url) as r:
            location = r.headers.get("location")
            if r.status_code in REDIRECTS and location:
                return location
            content_type = r.headers.get("content-type", "")
            if html_only and r.status_code < 400 and (
                    content_type.split(";")[0].strip().lower() not in HTML_TYPES):
                raise Refused("non_html", f"{url}: {content_type or 'no content type'}")
            if int(r.headers.get("content-length") or 0) > self.max_bytes:
                raise Refused("too_large", url)
            body = bytearray()
            async for chunk in r.aiter_bytes():
                body += chunk
                if len(body) > self.max_bytes:
                    raise Refused("too_large", url)
            return Response(url, url, r.status_code, content_type, bytes(body))
