"""Crawl benchmark: the development corpus served on loopback, one address per source, crawled
from its start pages into archives; then every server is stopped and generation replays the
archives. Reports pages kept, rejected by reason, languages, categories and pages/s.

    python bench/crawl.py                       # 400 pages, depth 2, then 100 pairs + 6 controls
    python bench/crawl.py --max-pages 100 --pairs 20
"""

from __future__ import annotations

import argparse
import json
import socket
import tempfile
from contextlib import ExitStack
from pathlib import Path

from corpus import CORPUS_CACHE, REPO, SHARED_CORPUS, ensure_corpus

from spotdiff.config import load_config
from spotdiff.crawler.crawl import crawl
from spotdiff.crawler.manifest import Manifest
from spotdiff.generator.run import RunRequest, generate
from spotdiff.generator.sources import serve_directory


def serve_corpus(stack: ExitStack) -> tuple[list[str], list[str]]:
    """Each source on its own address 127.0.0.(10+i): (start pages, hosts)."""
    ensure_corpus()
    seeds, hosts = [], []
    for i, source in enumerate(json.loads((SHARED_CORPUS / "dev-pages.json").read_text())):
        host = f"127.0.0.{10 + i}"
        base = stack.enter_context(serve_directory(CORPUS_CACHE / source["root"], host=host))
        first = Path(source["pages"][0])
        index = (first.parent / "index.html").as_posix()
        start = index if (CORPUS_CACHE / source["root"] / index).exists() else first.as_posix()
        seeds.append(base + start)
        hosts.append(host)
    return seeds, hosts


def listening(url: str) -> bool:
    host, port = url.split("//")[1].split("/")[0].split(":")
    with socket.socket() as s:
        return s.connect_ex((host, int(port))) == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-pages", type=int, default=400)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--no-diff", type=int, default=6)
    parser.add_argument("--clip", default="none", help="clip.backend for generation")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "crawl")
    args = parser.parse_args()
    with ExitStack() as stack:
        seeds, hosts = serve_corpus(stack)
        cfg = load_config(overrides={"crawl": {
            "max_pages": args.max_pages, "max_depth": args.depth, "allowed_hosts": hosts,
            "allow_networks": ["127.0.0.0/8"]}})
        crawled = crawl(cfg, seeds, args.out / "pages")
    assert not any(listening(s) for s in seeds), "a corpus server is still listening"
    cfg.clip.backend = args.clip
    pages = Manifest(args.out / "pages").kept_pages()
    with tempfile.TemporaryDirectory() as tmp:
        stats = generate(RunRequest.for_pairs(pages, Path(tmp) / "ds", args.pairs, args.no_diff,
                                              cfg, workers=2), cfg)
    keys = ("captured", "kept", "rejected", "languages", "categories", "complexity",
            "requests", "subresources_blocked", "elapsed_s", "pages_per_s", "archive_bytes")
    print(json.dumps({
        "crawl": {k: crawled.get(k) for k in keys},
        "generate_with_servers_stopped": {
            "pages": stats["pages"], "rows": stats["rows"], "candidates": stats["candidates"],
            "no_diff": stats.get("no_diff"), "candidates_per_s": stats["candidates_per_s"]},
    }, indent=1))


if __name__ == "__main__":
    main()
