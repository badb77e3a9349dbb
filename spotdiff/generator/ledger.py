"""The run directory as a ledger of finished work units.

A unit's part file (its rows) is written first, atomically; its marker (counts and stats) next.
A unit whose marker exists and whose part matches the size and hash the marker records is
finished, so a re-run skips it and loses or repeats nothing; a damaged part is redone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from spotdiff.export.parquet import write_rows, writing
from spotdiff.export.rows import to_row
from spotdiff.generator.page_job import PageResult
from spotdiff.records import hardest
from spotdiff.renderer.mechanisms import mechanism_name

log = logging.getLogger("spotdiff.ledger")


class RunMismatch(RuntimeError):
    """The output directory holds a run with different inputs."""


def write_json(path: Path, data: Any) -> None:
    """Atomically: a reader sees the old file or the new one, and a failed write (a full disk)
    leaves no partial file behind."""
    tmp = path.with_name(path.name + ".tmp")
    with writing(path, tmp):
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))
        tmp.replace(path)


def file_digest(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return {"bytes": path.stat().st_size, "sha256": digest.hexdigest()}


class RunDir:
    def __init__(self, out: Path, split: str):
        self.out = out
        self.split = split
        self.ledger = out / ".run"
        self.units = self.ledger / "units"
        self.rejects = out / "rejects"

    def part(self, index: int) -> Path:
        return self.units / f"unit-{index:06d}.parquet"

    def marker(self, index: int) -> Path:
        return self.units / f"unit-{index:06d}.json"

    def is_done(self, index: int) -> bool:
        """The unit's marker exists and its part is the one the marker was written for."""
        try:
            recorded = self.read_marker(index).get("part")
        except FileNotFoundError:
            return False
        except (OSError, ValueError):
            log.warning("unit %d: its marker is unreadable; redoing the unit", index)
            return False
        part = self.part(index)
        if recorded is None:  # written before parts were checked
            return part.exists()
        try:
            if os.path.getsize(part) == recorded["bytes"] and file_digest(part) == recorded:
                return True
        except OSError:
            pass
        log.warning("unit %d: %s is missing or not the file its marker recorded; redoing the "
                    "unit", index, part)
        return False

    def read_marker(self, index: int) -> dict[str, Any]:
        return json.loads(self.marker(index).read_text())

    def claim(self, fingerprint: str) -> None:
        self.units.mkdir(parents=True, exist_ok=True)
        marker = self.ledger / "run.json"
        if marker.exists():
            if json.loads(marker.read_text())["fingerprint"] != fingerprint:
                raise RunMismatch(f"{self.out} holds a run with other pages, counts or config; "
                                  "use another --out or remove it")
        else:
            write_json(marker, {"fingerprint": fingerprint, "elapsed_s": 0.0})

    def add_elapsed(self, seconds: float) -> float:
        """Wall time over every invocation of this run, for honest rates after a resume."""
        marker = self.ledger / "run.json"
        data = json.loads(marker.read_text())
        data["elapsed_s"] = data.get("elapsed_s", 0.0) + seconds
        write_json(marker, data)
        return data["elapsed_s"]

    def save_unit(self, result: PageResult, templates: dict[str, str], row_group_rows: int) -> None:
        index = result.unit.index
        rows = [to_row(pair, templates) for pair in result.pairs]
        with result.stats.timed("write"):
            write_rows(rows, self.part(index), row_group_rows)
            rejects = self._save_rejects(result, templates)
        write_json(self.marker(index), {
            "part": file_digest(self.part(index)),
            "visual": [[row["operator"], row["difficulty"]] for row in rows
                       if row["task_type"] == "visual_diff"],
            "mechanisms": ["+".join(mechanism_name(m.mechanism) for m in pair.mutations)
                           for pair in result.pairs if pair.task_type == "visual_diff"],
            "no_diff": sum(row["task_type"] == "no_diff" for row in rows),
            "category": result.category,
            "rejects": rejects,
            "stats": result.stats.data,
            **({"frame_vectors": result.frame_vectors.to_json()}
               if result.frame_vectors and result.frame_vectors.vectors else {}),
        })

    def _save_rejects(self, result: PageResult, templates: dict[str, str]) -> list[dict]:
        entries = []
        for k, reject in enumerate(result.rejects):
            pair = reject.pair
            stem = f"unit-{result.unit.index:06d}-{k:02d}"
            paths = {}
            for side, shot in (("before", pair.before), ("after", pair.after)):
                path = self.rejects / f"{stem}-{side}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                with writing(path, path):
                    path.write_bytes(shot.png)
                paths[side] = path.relative_to(self.out).as_posix()
            row = to_row(pair, templates)
            entries.append({
                "reason": reject.reason, "operator": row["operator"],
                "tier": hardest([m.tier for m in pair.mutations]), "url": pair.page.url,
                "sentence": pair.sentence, "box": list(pair.target_box or (-1, -1, -1, -1)),
                "metrics": {k: pair.metrics[k] for k in ("pixel_diff", "target_diff",
                                                         "outside_diff")},
                **paths,
            })
        return entries


