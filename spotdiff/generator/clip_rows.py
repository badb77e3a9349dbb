"""clip_distance for the rows a run exports: in batches, on every core, and kept in the run
ledger so a resumed run does not embed them again. Rows whose selection is already settled are
embedded while later waves run; the rest when the rows are cut into shards."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from spotdiff.config import ClipConfig
from spotdiff.generator.executors import RunFailed
from spotdiff.generator.ledger import write_json
from spotdiff.generator.stats import Stats
from spotdiff.grounding.embedding import EmbeddingCache, load_embedder
from spotdiff.renderer.session import decode_png


class RowDistances:
    def __init__(self, cfg: ClipConfig, path: Path) -> None:
        self.cfg = cfg.model_copy(update={"threads": 0})  # the main process: every core
        self.path = path
        self.stats = Stats()
        data = json.loads(path.read_text()) if path.exists() else {}
        self.model: str | None = data.get("model")
        self.distances: dict[str, float] = data.get("distances", {})
        self._embeddings: EmbeddingCache | None = None

    def fill(self, table: pa.Table) -> pa.Table:
        """`table` with clip_distance set on every row that lacks one."""
        if self.cfg.backend == "none" or not table.num_rows:
            return table
        ids = table["id"].to_pylist()
        current = table["clip_distance"].to_pylist()  # None: not computed yet
        todo = [i for i, d in enumerate(current) if d is None and ids[i] not in self.distances]
        for start in range(0, len(todo), self.cfg.batch_size):
            self._embed(table, todo[start:start + self.cfg.batch_size], ids)
        if self.model:
            self.stats.data.setdefault("clip_models", {})[self.model] = len(self.distances)
        filled = [self.distances.get(ids[i]) if d is None else d for i, d in enumerate(current)]
        column = table.schema.get_field_index("clip_distance")
        return table.set_column(column, "clip_distance", pa.array(filled, pa.float64()))

    def _embed(self, table: pa.Table, rows: list[int], ids: list[str]) -> None:
        if self._embeddings is None:
            embedder = load_embedder(self.cfg)
            if embedder is None:
                return
            self._embeddings = EmbeddingCache(embedder)
            self.model = embedder.label
        pairs = [tuple(decode_png(table[side][i].as_py()["bytes"])
                       for side in ("image_before", "image_after")) for i in rows]
        with self.stats.timed("clip"):
            embedded = self._embeddings.embedded
            try:
                distances = self._embeddings.distances(pairs)
            except Exception as e:  # the encoder fails on real frames: no row can get its value
                reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise RunFailed(f"{self.model} failed on the rows to write: {reason}") from e
        self.stats.count("clip", "images_embedded", n=self._embeddings.embedded - embedded)
        self.distances.update({ids[i]: d for i, d in zip(rows, distances, strict=True)})
        write_json(self.path, {"model": self.model, "distances": self.distances})
