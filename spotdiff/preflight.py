"""What a run needs, checked once in the main process before any worker starts: a writable
output directory, a browser that launches, and the embedding backend the workers will use.

A failure is a `PreflightError` whose message is what the user reads: one line naming the thing
and the reason, so a run that cannot work stops in seconds instead of failing page after page.
"""

from __future__ import annotations

import logging
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

from spotdiff.config import ClipConfig, RunConfig
from spotdiff.grounding.embedding import OFFLINE_INSTALL, load_embedder
from spotdiff.renderer.browser import BrowserNotFound, launch_browser

log = logging.getLogger("spotdiff.preflight")

OPEN_CLIP_INSTALL = "pip install open-clip-torch"  # or the package's `clip` extra
PROBE_NAME = ".spotdiff-write-probe"


class PreflightError(RuntimeError):
    """The run cannot start; the message names what is wrong and how to fix it."""


def check_out(out: Path) -> None:
    """`out` exists (created if needed) and a file can be written in it."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / PROBE_NAME
        probe.write_bytes(b"spotdiff")
        probe.unlink()
    except OSError as e:
        raise PreflightError(f"{out}: output directory is not writable: "
                             f"{e.strerror or e}") from e


def check_browser(cfg: RunConfig) -> None:
    """Find Chromium and launch it once (the choice is logged)."""
    try:
        with sync_playwright() as pw:
            browser, _ = launch_browser(pw, cfg.browser, cfg.render.allowed_hosts)
            browser.close()
    except BrowserNotFound as e:
        raise PreflightError(str(e)) from e
    except PlaywrightError as e:
        raise PreflightError(f"Chromium does not launch: {str(e).splitlines()[0]} (install "
                             "its libraries: `python -m playwright install-deps chromium`, or "
                             "set browser.executable_path)") from e


def _loads(clip: ClipConfig) -> str | None:
    """None when `clip`'s backend loads, else why not (the libraries' own error logging is
    held back: the reason is reported once, by the caller)."""
    logging.disable(logging.ERROR)
    try:
        load_embedder(clip)
    except Exception as e:  # noqa: BLE001 - any failure to load is a reason to report
        return str(e).splitlines()[0] if str(e) else type(e).__name__
    finally:
        logging.disable(logging.NOTSET)
    return None


def resolve_embedding(clip: ClipConfig) -> ClipConfig:
    """The concrete backend every worker uses, so none of them probes again. `auto`: open_clip
    when its weights load, else the offline encoder, else the signal off (clip_distance null)
    with one warning naming both installs. A named backend that cannot load stops the run."""
    if clip.backend == "none":
        return clip
    if clip.backend != "auto":
        why = _loads(clip)
        if why is not None:
            raise PreflightError(f"clip.backend {clip.backend} cannot load: {why}")
        return clip
    reasons = []
    for backend, install in (("open_clip", OPEN_CLIP_INSTALL), ("onnx", OFFLINE_INSTALL)):
        concrete = clip.model_copy(update={"backend": backend})
        why = _loads(concrete)
        if why is None:
            return concrete
        reasons.append(f"{backend}: {why}" + ("" if install in why else f" (`{install}`)"))
    log.warning("no image embedder loads, so clip_distance is written as null; %s",
                "; ".join(reasons))
    return clip.model_copy(update={"backend": "none"})


def preflight(cfg: RunConfig, out: Path) -> RunConfig:
    """Every check; returns `cfg` with the embedding backend made concrete."""
    check_out(out)
    check_browser(cfg)
    return cfg.model_copy(update={"clip": resolve_embedding(cfg.clip)})
