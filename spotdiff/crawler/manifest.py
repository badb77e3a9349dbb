"""The per-page record of a crawl: appended to `manifest.jsonl` as each page is captured (so a
crawl resumes), and written whole to `manifest.parquet` with the final keep/reject verdicts."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from spotdiff.records import Page


@dataclass
class PageRecord:
    url: str  # as discovered
    final_url: str  # after redirects; what the archive replays
    status: int
    depth: int
    redirects: list[str] = field(default_factory=list)
    title: str = ""
    language: str = "und"
    language_source: str = ""  # html | detected
    category: str = "other"
    html_length: int = 0  # characters of the served HTML
    page_height: int = 0  # CSS px: the height of the body's content
    element_count: int = 0
    iframes: int = 0
    videos: int = 0
    canvases: int = 0
    embed_area: float = 0.0  # share of the first viewport under iframes, videos and canvases
    blank_share: float = 0.0  # share of the first viewport in its most common colour
    content_hash: str = ""  # sha256 of the served HTML
    phash: str = ""  # perceptual hash (hex, 256 bits) of the first viewport
    archive: str = ""  # file name in the pages directory ("" once a filter dropped the page)
    archive_bytes: int = 0
    complexity: str = ""  # simple | medium | complex, from element_count
    kept: bool = False
    reason: str = ""  # why not kept: a filter, near_duplicate, or the sampling's cap

    def to_page(self, pages_dir: Path) -> Page:
        return Page(url=self.final_url, domain=self.category, language=self.language,
                    archive=pages_dir / self.archive, key=f"archive:{self.archive}")


ARROW_TYPES = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(),
               "list[str]": pa.list_(pa.string())}
SCHEMA = pa.schema([(f.name, ARROW_TYPES[str(f.type)]) for f in dataclasses.fields(PageRecord)])


class Manifest:
    def __init__(self, pages_dir: Path) -> None:
        self.dir = pages_dir
        self.jsonl = pages_dir / "manifest.jsonl"
        self.parquet = pages_dir / "manifest.parquet"

    def read(self) -> list[PageRecord]:
        """Every captured page, later records for the same URL replacing earlier ones."""
        records: dict[str, PageRecord] = {}
        if self.jsonl.exists():
            names = {f.name for f in dataclasses.fields(PageRecord)}
            for line in self.jsonl.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a kill
                records[entry["url"]] = PageRecord(**{k: v for k, v in entry.items()
                                                      if k in names})
        return list(records.values())

    def append(self, record: PageRecord) -> None:
        with self.jsonl.open("a", encoding="utf-8") as f:
            f.write(json.dumps(dataclasses.asdict(record), ensure_ascii=False) + "\n")

    def write(self, records: list[PageRecord]) -> None:
        """Rewrite both files with the final verdicts, each replaced whole (no half-written
        file after a kill)."""
        rows = [dataclasses.asdict(r) for r in records]
        tmp = self.jsonl.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows),
                       encoding="utf-8")
        tmp.replace(self.jsonl)
        tmp = self.parquet.with_suffix(".parquet.tmp")
        pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), tmp)
        tmp.replace(self.parquet)

    def kept_pages(self) -> list[Page]:
        return [r.to_page(self.dir) for r in self.read() if r.kept]
