"""clip_distance for the rows a run exports, each embedded once. For a quota of anything, the
rows selection keeps whatever the other units give are embedded by the worker that made them,
from the pixels it holds, while the browsers work; the rest (and a split's rows) in the main
process, in batches, kept in the run ledger so a resumed run does not embed them again: rows
whose selection is settled while later waves run, the others when the rows are cut into
shards, with every core (the workers are done by then) and the before-frames the workers
already embedded taken from them."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pyarrow as pa

from spotdiff.config import ClipConfig, RunConfig
from spotdiff.generator.ledger import write_json
from spotdiff.generator.page_job import PageUnit
from spotdiff.generator.pool import RunFailed
from spotdiff.generator.selection import Quota, settled
from spotdiff.generator.stats import Stats
from spotdiff.grounding.embedding import EmbeddingCache, FrameVectors, load_embedder
from spotdiff.renderer.session import decode_png


class RowDistances:
    def __init__(self, cfg: ClipConfig, path: Path) -> None:
        # a session run on one thread: beside the workers a second costs more CPU an image
        # than it saves wall time (measured: 44 against 50 ms of CPU an image, int8); once the
        # workers are done, `fill` runs the session from several threads at once
        self.cfg = cfg.model_copy(update={"threads": 1})
        self.path = path
        self.stats = Stats()
        data = json.loads(path.read_text()) if path.exists() else {}
        self.model: str | None = data.get("model")
        self.distances: dict[str, float] = data.get("distances", {})
        self._embeddings: EmbeddingCache | None = None
        self._seeds: list[FrameVectors] = []
        self._lock = threading.Lock()  # the distances and their file

    def seed(self, found: FrameVectors) -> None:
        """Frames a worker already embedded (a page's before-frame), taken when embedding."""
        self._seeds.append(found)

    def fill(self, table: pa.Table, threads: int = 1) -> pa.Table:
        """`table` with clip_distance set on every row that lacks one, embedded by `threads`
        threads, each taking whole pages (their rows share a before-frame)."""
        if self.cfg.backend == "none" or not table.num_rows:
            return table
        ids = table["id"].to_pylist()
        current = table["clip_distance"].to_pylist()  # None: not computed yet
        todo = [i for i, d in enumerate(current) if d is None and ids[i] not in self.distances]
        embeddings = self._load() if todo else None
        if embeddings is not None:
            pages: dict[str, list[int]] = {}
            urls = table["url"].to_pylist()
            for i in todo:
                pages.setdefault(urls[i], []).append(i)
            lanes: list[list[int]] = [[] for _ in range(max(1, min(threads, len(pages))))]
            for rows in sorted(pages.values(), key=len, reverse=True):
                min(lanes, key=len).extend(rows)
            embedded = embeddings.embedded
            with self.stats.timed("clip"), ThreadPoolExecutor(len(lanes)) as pool:
                for done in [pool.submit(self._embed_lane, embeddings, table, lane, ids)
                             for lane in lanes]:
                    done.result()
            self.stats.count("clip", "images_embedded", n=embeddings.embedded - embedded)
        if self.model:
            self.stats.data.setdefault("clip_models", {})[self.model] = len(self.distances)
        filled = [self.distances.get(ids[i]) if d is None else d for i, d in enumerate(current)]
        column = table.schema.get_field_index("clip_distance")
        return table.set_column(column, "clip_distance", pa.array(filled, pa.float64()))

    def _load(self) -> EmbeddingCache | None:
        """The encoder's cache, loaded on first use, holding the seeds given so far."""
        if self._embeddings is None:
            embedder = load_embedder(self.cfg)
            if embedder is None:
                return None
            self._embeddings = EmbeddingCache(embedder, decode=decode_png)
            self.model = embedder.label
        for found in self._seeds:
            self._embeddings.seed(found)
        self._seeds.clear()
        return self._embeddings

    def _embed_lane(self, embeddings: EmbeddingCache, table: pa.Table, rows: list[int],
                    ids: list[str]) -> None:
        for start in range(0, len(rows), self.cfg.batch_size):
            self._embed(embeddings, table, rows[start:start + self.cfg.batch_size], ids)

    def _embed(self, embeddings: EmbeddingCache, table: pa.Table, rows: list[int],
               ids: list[str]) -> None:
        # encoded: the before-frame a page's rows share is decoded once
        pairs = [tuple(table[side][i].as_py()["bytes"] for side in ("image_before", "image_after"))
                 for i in rows]
        try:
            distances = embeddings.distances(pairs)
        except Exception as e:  # the encoder fails on real frames: no row can get its value
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise RunFailed(f"{self.model} failed on the rows to write: {reason}") from e
        with self._lock:  # the ledger keeps what is done if the run stops here
            self.distances.update({ids[i]: d for i, d in zip(rows, distances, strict=True)})
            write_json(self.path, {"model": self.model, "distances": self.distances})


def workers_embed(quota: Quota, cfg: RunConfig) -> bool:
    """Whether workers run the encoder: for the gate's bound on the distance, or for the rows
    of a quota of anything (a split's rows are embedded by the main process)."""
    return cfg.clip.backend != "none" and (cfg.gate.clip_distance is not None
                                           or not quota.targeted)


def embedded_by_workers(units: Sequence[PageUnit], quota: Quota, cfg: RunConfig
                        ) -> list[PageUnit]:
    """`units` (every unit of a quota of anything, in order) each told how many of its first
    accepted pairs selection keeps whatever the other units give: those and its controls are
    embedded by its worker. A split's units are left to the main process."""
    if cfg.clip.backend == "none" or quota.targeted:
        return list(units)
    return [replace(unit, embed=settled(quota, len(units), position, quota.max_per_page))
            for position, unit in enumerate(units)]
