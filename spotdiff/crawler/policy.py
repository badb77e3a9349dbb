"""Which URLs the crawler may touch: normalisation, schemes, the same-site rule and address safety.

Every host is resolved before any connection; when any of its addresses is not public (private,
loopback, link-local, reserved, multicast, unspecified) it is refused unless allowed, so the
crawler cannot be pointed at internal services.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urljoin, urlsplit, urlunsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}


# Refusals of the address policy itself (as opposed to what a server answered)
POLICY_REASONS = frozenset({"not_http", "bad_url", "private_address", "dns_error",
                            "host_not_allowed"})


class Refused(Exception):
    """A URL the crawler will not fetch; `reason` is the counted stats key."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def normalize(url: str, base: str | None = None) -> str:
    """Absolute URL without fragment, lower-case scheme and host, no default port, path '/' at
    least. Raises Refused('not_http') for other schemes (file:, data:, mailto:, javascript:)."""
    parts = urlsplit(urljoin(base, url.strip()) if base else url.strip())
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES or not parts.hostname:
        raise Refused("not_http", url[:200])
    try:
        port = parts.port
    except ValueError as e:
        raise Refused("bad_url", url[:200]) from e
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def host_of(url: str) -> str:
    return urlsplit(url).hostname or ""


def site_of(url: str) -> str:
    """The same-site unit: host (without a leading www.) and port. 127.0.0.1:8001 and
    localhost:8002 are different sites."""
    parts = urlsplit(url)
    host = (parts.hostname or "").removeprefix("www.")
    return f"{host}:{parts.port or DEFAULT_PORTS.get(parts.scheme, 0)}"


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def is_public(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class AddressPolicy:
    """Resolves hosts (cached for the crawl) and refuses non-public addresses unless allowed:
    everything with `allow_private`, else only the `networks` listed. With `hosts`, any other
    host is refused before it is looked up."""

    def __init__(self, allow_private: bool = False, networks: Iterable[str] = (),
                 hosts: Iterable[str] | None = None) -> None:
        self.allow_private = allow_private
        self.networks: list[IPNetwork] = [ipaddress.ip_network(n, strict=False) for n in networks]
        self.hosts = None if hosts is None else {h.lower().strip("[]") for h in hosts}
        self._verdicts: dict[str, str | None] = {}

    def allows(self, ip: IPAddress) -> bool:
        return self.allow_private or is_public(ip) or any(ip in n for n in self.networks)

    async def addresses(self, host: str) -> list[IPAddress]:
        try:
            return [ipaddress.ip_address(host.strip("[]"))]  # a literal needs no lookup
        except ValueError:
            pass
        infos = await asyncio.get_running_loop().getaddrinfo(host, None,
                                                             type=socket.SOCK_STREAM)
        return [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]

    async def verdict(self, host: str) -> str | None:
        """None when every address of `host` is allowed, else the refusal reason."""
        if self.hosts is not None and host.strip("[]") not in self.hosts:
            return "host_not_allowed"
        if host not in self._verdicts:
            try:
                ips = await self.addresses(host)
            except (OSError, UnicodeError):
                self._verdicts[host] = "dns_error"
            else:
                allowed = bool(ips) and all(self.allows(ip) for ip in ips)
                self._verdicts[host] = None if allowed else "private_address"
        return self._verdicts[host]

    async def check(self, url: str) -> None:
        """Raise Refused unless `url` is http(s) on a host whose addresses are all allowed."""
        if urlsplit(url).scheme not in SCHEMES:
            raise Refused("not_http", url[:200])
        reason = await self.verdict(host_of(url))
        if reason:
            raise Refused(reason, host_of(url))
