"""The on-disk cache: what spotdiff derives once and reuses across worker processes and runs
(the offline encoder's ONNX files, parsed stylesheets), under ~/.cache/spotdiff or
`SPOTDIFF_CACHE`."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def cache_dir(kind: str) -> Path:
    root = os.environ.get("SPOTDIFF_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "spotdiff") / kind


def write_atomically(target: Path, write: Callable[[str], None]) -> None:
    """Have `write` fill a file beside `target` and move it into place, so a process reading
    `target` (another worker, a later run) never sees it half written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".part")
    os.close(fd)
    try:
        write(partial)
        os.replace(partial, target)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
