"""Development-corpus pages for benchmarks: each source served from its own root on 127.0.0.1,
taken round-robin across sources so any prefix mixes page kinds.

The corpus is built from ../shared/corpus into ~/.cache/spotdiff/dev-corpus when missing.
"""

from __future__ import annotations

import itertools
import json
import sys
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from spotdiff.generator.sources import serve_directory  # noqa: E402
from spotdiff.records import Page  # noqa: E402
from tests.conftest import CORPUS_CACHE, SHARED_CORPUS, ensure_corpus  # noqa: E402


def corpus_pages(stack: ExitStack, n: int, skip: int = 0) -> list[Page]:
    """Pages `skip` to `skip + n` of the round-robin order, served until `stack` closes."""
    ensure_corpus()
    sources = json.loads((SHARED_CORPUS / "dev-pages.json").read_text())
    lists = []
    for source in sources:
        base = stack.enter_context(serve_directory(CORPUS_CACHE / source["root"]))
        lists.append([Page(url=base + p, domain=source["source"], key=f"{source['source']}:{p}")
                      for p in source["pages"]])
    spread = (p for p in itertools.chain.from_iterable(itertools.zip_longest(*lists)) if p)
    return list(itertools.islice(spread, skip, skip + n))
