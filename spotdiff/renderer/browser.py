"""Which Chromium runs, and how it is launched.

Order of preference: an explicit `browser.executable_path`, then Playwright's own Chromium when it
is installed, then a system Chromium. The choice is logged so a run says what rendered it.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from playwright.async_api import Playwright as AsyncPlaywright
from playwright.sync_api import Browser, Playwright

from spotdiff.config import BrowserConfig

log = logging.getLogger("spotdiff.browser")

# The headless shell renders ~40% more pairs per second than full Chromium here (the build
# Playwright itself uses for headless runs). Debian's /usr/bin/* are shell wrappers; the binaries
# behind them start faster. Before and after are always shot by the same binary.
SYSTEM_CHROMIUMS = (
    "/usr/lib/chromium/chromium-headless-shell",
    "chromium-headless-shell",
    "/usr/lib/chromium/chromium",
    "/usr/bin/chromium",
    "chromium",
    "chromium-browser",
    "google-chrome",
)

# --disable-partial-raster: without it a style applied and reverted can leave a few pixels
# different, which would make no-op mutations look like changes.
LAUNCH_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-partial-raster",
    "--hide-scrollbars",
)


class BrowserNotFound(RuntimeError):
    pass


@dataclass(frozen=True)
class BrowserChoice:
    executable: str | None  # None: Playwright's own build
    source: str  # "config", "playwright" or "system"

    def describe(self) -> str:
        return f"{self.source} Chromium ({self.executable or 'bundled with Playwright'})"


def choose_browser(pw: Playwright | AsyncPlaywright, cfg: BrowserConfig) -> BrowserChoice:
    if cfg.executable_path:
        if not Path(cfg.executable_path).exists():
            raise BrowserNotFound(f"browser.executable_path does not exist: {cfg.executable_path}")
        return BrowserChoice(cfg.executable_path, "config")
    bundled = pw.chromium.executable_path
    if bundled and Path(bundled).exists():
        return BrowserChoice(None, "playwright")
    for name in SYSTEM_CHROMIUMS:
        found = shutil.which(name) if "/" not in name else (name if Path(name).exists() else None)
        if found:
            return BrowserChoice(found, "system")
    raise BrowserNotFound(
        "no Chromium found: run `python -m playwright install chromium`, or install a system "
        "Chromium (`apt-get install -y chromium`), or set browser.executable_path"
    )


def resolve_only(hosts: Sequence[str]) -> str:
    """A launch flag under which Chromium resolves no host name but `hosts`. Request routing
    cannot do this alone: hints such as <link rel=preconnect> and DNS prefetching reach the
    network without passing through it."""
    rules = ", ".join(["MAP * ~NOTFOUND", *(f"EXCLUDE {h}" for h in hosts)])
    return f"--host-resolver-rules={rules}"


def launch_options(
    pw: Playwright | AsyncPlaywright, cfg: BrowserConfig,
    allowed_hosts: Sequence[str] | None = None,
) -> tuple[dict, BrowserChoice]:
    """Keyword arguments for `chromium.launch` (sync or async API) and the logged choice.
    With `allowed_hosts`, no other name is resolved."""
    choice = choose_browser(pw, cfg)
    log.info("rendering with %s", choice.describe())
    resolver = [] if allowed_hosts is None else [resolve_only(allowed_hosts)]
    options = {
        "executable_path": choice.executable,
        "headless": True,
        "args": [*LAUNCH_ARGS, *resolver, *cfg.extra_args],
    }
    return options, choice


def launch_browser(pw: Playwright, cfg: BrowserConfig,
                   allowed_hosts: Sequence[str] | None = None) -> tuple[Browser, BrowserChoice]:
    options, choice = launch_options(pw, cfg, allowed_hosts)
    return pw.chromium.launch(**options), choice
