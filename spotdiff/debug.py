"""`spotdiff --debug`: user errors show their traceback, in the CLI and in worker processes
(which inherit the environment variable)."""

from __future__ import annotations

import os

DEBUG_ENV = "SPOTDIFF_DEBUG"


def set_debug(on: bool) -> None:
    if on:
        os.environ[DEBUG_ENV] = "1"


def debugging() -> bool:
    return bool(os.environ.get(DEBUG_ENV))
