"""The breadth-first frontier, persisted as an append-only log so an interrupted crawl resumes.

`frontier.jsonl` has one line per URL discovered (`{"url", "depth"}`) and one per URL finished
(`{"url", "outcome"}`: `captured` or the reason it was refused or skipped). On resume every
discovered, unfinished URL is queued again in discovery order; finished ones are never refetched.
"""

from __future__ import annotations

import json
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Item:
    url: str
    depth: int


class Frontier:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.queue: deque[Item] = deque()
        self.seen: set[str] = set()
        self.outcomes: dict[str, str] = {}
        if path.exists():
            self._replay()
        self._log = path.open("a", encoding="utf-8")

    def _replay(self) -> None:
        depths: dict[str, int] = {}
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a kill
            self.seen.add(entry["url"])
            if "outcome" in entry:
                self.outcomes[entry["url"]] = entry["outcome"]
            else:
                depths.setdefault(entry["url"], entry["depth"])
        self.queue.extend(Item(url, depth) for url, depth in depths.items()
                          if url not in self.outcomes)

    def _write(self, entry: dict) -> None:
        self._log.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self._log.flush()

    def add(self, url: str, depth: int) -> None:
        """Queue `url` unless it was seen before."""
        if url in self.seen:
            return
        self.seen.add(url)
        self.queue.append(Item(url, depth))
        self._write({"url": url, "depth": depth})

    def finish(self, url: str, outcome: str) -> None:
        """Record what became of `url` (also for URLs never queued, e.g. off-site links)."""
        self.seen.add(url)
        if url not in self.outcomes:
            self.outcomes[url] = outcome
            self._write({"url": url, "outcome": outcome})

    def drop_finished(self) -> None:
        """Unqueue URLs finished elsewhere (a page recorded just before a kill logged it)."""
        self.queue = deque(item for item in self.queue if item.url not in self.outcomes)

    def pop(self, ready: Callable[[Item], bool]) -> Item | None:
        """The first queued item `ready` accepts (e.g. whose host has a free slot)."""
        for i, item in enumerate(self.queue):
            if ready(item):
                del self.queue[i]
                return item
        return None

    def counts(self) -> Counter[str]:
        return Counter(self.outcomes.values())

    def close(self) -> None:
        self._log.close()
