"""The crawl: breadth-first from seeds (and sitemaps), politely and safely, each new HTML page
captured once into a replayable archive and recorded in the manifest.

Every URL discovered ends with a counted outcome in the frontier log: `captured` (the manifest
then says whether filters kept it) or the reason it was refused or skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from spotdiff.config import CrawlConfig, RenderConfig, RunConfig
from spotdiff.crawler.archive import Capture, Capturer
from spotdiff.crawler.classify import Classifier
from spotdiff.crawler.fetch import Fetcher, Response, new_client
from spotdiff.crawler.filters import (
    auto_filter,
    blank_share,
    drop_near_duplicates,
    perceptual_hash,
)
from spotdiff.crawler.filters import sample as stratified_sample
from spotdiff.crawler.frontier import Frontier, Item
from spotdiff.crawler.language import page_language
from spotdiff.crawler.links import html_links, looks_non_html, sitemap_locations
from spotdiff.crawler.manifest import Manifest, PageRecord
from spotdiff.crawler.pacing import Pacer
from spotdiff.crawler.policy import AddressPolicy, Refused, host_of, normalize, origin_of, site_of
from spotdiff.crawler.robots import Robots
from spotdiff.renderer.session import Renderer

log = logging.getLogger("spotdiff.crawler")
logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request

CAPTURED = "captured"
STATS_FILE = "crawl_stats.json"
ARCHIVES = "archives"


@dataclass
class Progress:
    captured: int
    kept: int
    queued: int


class Crawl:
    def __init__(self, cfg: RunConfig, out: Path,
                 on_progress: Callable[[Progress], None] | None = None) -> None:
        self.run_cfg = cfg
        self.cfg: CrawlConfig = cfg.crawl
        self.out = out
        self.on_progress = on_progress or (lambda progress: None)
        (out / ARCHIVES).mkdir(parents=True, exist_ok=True)
        self.manifest = Manifest(out)
        self.frontier = Frontier(out / "frontier.jsonl")
        self.classifier = Classifier.from_file(cfg.resolve(self.cfg.categories))
        self.policy = AddressPolicy(self.cfg.allow_private, self.cfg.allow_networks,
                                    self.cfg.allowed_hosts)
        self.pacer = Pacer(self.cfg.min_interval_s)
        records = self.manifest.read()
        self.captured = len(records)
        self.kept = sum(r.kept for r in records)
        self.hashes = {r.content_hash for r in records}
        self.final_urls = {r.final_url for r in records}
        for r in records:
            self.frontier.finish(r.url, CAPTURED)
        self.frontier.drop_finished()
        self.sites = {site_of(r.final_url) for r in records if r.depth == 0}
        self.in_flight: Counter[str] = Counter()

    # -- discovery -------------------------------------------------------------------------

    def discover(self, href: str, depth: int, base: str | None = None,
                 seed: bool = False) -> None:
        """Queue a link (or seed, or sitemap entry) unless it was seen or is refused at once."""
        try:
            url = normalize(href, base)
        except Refused as e:
            self.frontier.finish(href.strip()[:500], e.reason)
            return
        if url in self.frontier.seen:
            return
        if self.cfg.same_site and not seed and site_of(url) not in self.sites:
            self.frontier.finish(url, "offsite")
        elif looks_non_html(url):
            self.frontier.finish(url, "non_html")
        else:
            self.frontier.add(url, depth)

    async def add_sitemaps(self, fetcher: Fetcher, robots: Robots, origins: Sequence[str]) -> None:
        for origin in origins:
            try:
                listed = await robots.sitemaps(origin)
            except Refused:
                continue  # the origin itself is refused; its seed says why
            pending = list(dict.fromkeys([*listed, f"{origin}/sitemap.xml"]))
            for _level in range(2):  # a sitemap (or index), then the index's sitemaps
                nested: list[str] = []
                for sitemap in pending:
                    try:
                        response = await fetcher.get(sitemap, html_only=False)
                    except Refused:
                        continue
                    if response.status >= 400:
                        continue
                    pages, more = sitemap_locations(response.body)
                    for page in pages:
                        self.discover(page, 0)
                    nested += more
                pending = nested

    # -- one page --------------------------------------------------------------------------

    async def visit(self, item: Item, fetcher: Fetcher, robots: Robots,
                    capturer: Capturer) -> None:
        try:
            record = await self._visit(item, fetcher, robots, capturer)
        except Refused as e:
            log.debug("%s", e)
            self.frontier.finish(item.url, e.reason)
            return
        except Exception:  # one odd page must not end a long crawl
            log.exception("crawling %s failed", item.url)
            self.frontier.finish(item.url, "crawler_error")
            return
        self.manifest.append(record)
        self.frontier.finish(item.url, CAPTURED)
        self.captured += 1
        self.kept += record.kept

    async def _visit(self, item: Item, fetcher: Fetcher, robots: Robots,
                     capturer: Capturer) -> PageRecord:
        if not await robots.allowed(item.url):
            raise Refused("robots_disallowed", item.url)
        response = await fetcher.get(item.url)
        if response.status >= 400:
            raise Refused("http_error", f"{item.url}: {response.status}")
        final = response.final_url
        if final != item.url:
            if final in self.final_urls or self.frontier.outcomes.get(final) == CAPTURED:
                raise Refused("duplicate_url", final)
            if self.cfg.same_site and site_of(final) not in self.sites:
                if item.depth > 0:
                    raise Refused("offsite_redirect", final)
                self.sites.add(site_of(final))  # a seed that moved: its new site is the seed's
            if not await robots.allowed(final):
                raise Refused("robots_disallowed", final)
        digest = hashlib.sha256(response.body).hexdigest()
        if digest in self.hashes:
            raise Refused("duplicate", final)
        self.hashes.add(digest)
        self.final_urls.add(final)
        if item.depth < self.cfg.max_depth:
            base, hrefs = await asyncio.to_thread(html_links, response.text)
            base_url = final
            if base:
                with contextlib.suppress(Refused):  # a <base> that is not http(s): ignored
                    base_url = normalize(base, final)
            for href in hrefs:
                self.discover(href, item.depth + 1, base_url)
        name = capturer.archive_name(hashlib.sha1(final.encode()).hexdigest()[:20])
        try:
            capture = await capturer.capture(final, self.out / ARCHIVES / name)
        except Refused:
            self.hashes.discard(digest)  # nothing was kept: another copy may still be
            self.final_urls.discard(final)
            raise
        record = await asyncio.to_thread(  # hashing and language detection: off the loop
            self.record, item, response, digest, capture, f"{ARCHIVES}/{name}")
        return self.judge(record)

    def record(self, item: Item, response: Response, digest: str, capture: Capture,
               archive: str) -> PageRecord:
        language, source = page_language(capture.lang, capture.text)
        return PageRecord(
            url=item.url, final_url=response.final_url, status=response.status, depth=item.depth,
            redirects=response.redirects, title=capture.title.strip()[:300], language=language,
            language_source=source,
            category=self.classifier.classify(response.final_url, capture.title, capture.text),
            html_length=len(response.text), page_height=capture.page_height,
            element_count=capture.element_count, iframes=capture.iframes, videos=capture.videos,
            canvases=capture.canvases, embed_area=round(capture.embed_area, 4),
            blank_share=round(blank_share(capture.viewport), 4), content_hash=digest,
            phash=perceptual_hash(capture.viewport), archive=archive,
            archive_bytes=capture.archive_bytes,
        )

    def judge(self, record: PageRecord) -> PageRecord:
        """Apply the automatic filters; a dropped page's archive goes."""
        reason = auto_filter(record, self.cfg.filters)
        record.kept = reason is None
        if reason is not None:
            record.reason = reason
            self.drop_archive(record)
        return record

    def drop_archive(self, record: PageRecord) -> None:
        (self.out / record.archive).unlink(missing_ok=True)
        record.archive = ""

    # -- the run ---------------------------------------------------------------------------

    def capture_render_config(self) -> RenderConfig:
        """Captures reach the hosts the crawl allows (every host by default), not those that
        rendering for generation allows."""
        return self.run_cfg.render.model_copy(update={"allowed_hosts": self.cfg.allowed_hosts})

    async def run(self, seeds: Sequence[str]) -> dict:
        start = time.perf_counter()
        for seed in seeds:
            if _is_http(seed):
                self.sites.add(site_of(normalize(seed)))
            self.discover(seed, 0, seed=True)
        async with new_client(self.cfg.user_agent) as client, \
                Renderer(self.run_cfg.browser, self.capture_render_config()) as renderer:
            fetcher = Fetcher(client, self.policy, self.pacer, self.cfg.max_bytes,
                              self.cfg.page_timeout_s, self.cfg.max_redirects)
            robots = Robots(fetcher, self.cfg.user_agent)
            capturer = Capturer(renderer, self.policy, self.cfg.har_content,
                                self.cfg.page_timeout_s)
            if self.cfg.sitemap:
                origins = {origin_of(normalize(s)) for s in seeds if _is_http(s)}
                await self.add_sitemaps(fetcher, robots, sorted(origins))
            try:
                await self._schedule(fetcher, robots, capturer)
            finally:
                self.frontier.close()
                stats = self.finish(time.perf_counter() - start, fetcher.requests,
                                    capturer.blocked)
        return stats

    async def _schedule(self, fetcher: Fetcher, robots: Robots, capturer: Capturer) -> None:
        """Dispatch queued URLs while the caps allow: pages in flight overall and per host, and
        captured + in flight below max_pages. Whatever is left stays queued for a resume."""
        tasks: dict[asyncio.Task, str] = {}

        def ready(item: Item) -> bool:
            return self.in_flight[host_of(item.url)] < self.cfg.per_host

        try:
            while True:
                while (len(tasks) < self.cfg.concurrency
                       and self.captured + len(tasks) < self.cfg.max_pages
                       and (item := self.frontier.pop(ready)) is not None):
                    host = host_of(item.url)
                    self.in_flight[host] += 1
                    tasks[asyncio.create_task(self.visit(item, fetcher, robots, capturer))] = host
                if not tasks:
                    return
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    self.in_flight[tasks.pop(task)] -= 1
                    task.result()
                self.on_progress(Progress(self.captured, self.kept, len(self.frontier.queue)))
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def finish(self, elapsed: float, requests: int, blocked: Counter[str]) -> dict:
        """Sample the kept pages, write manifest.parquet and crawl_stats.json."""
        records = self.manifest.read()
        for record in drop_near_duplicates(records, self.cfg.filters.near_duplicate_distance):
            self.drop_archive(record)
        stratified_sample(records, self.cfg.sample)
        self.manifest.write(records)
        stats_path = self.out / STATS_FILE
        before = json.loads(stats_path.read_text()) if stats_path.exists() else {}
        elapsed += before.get("elapsed_s", 0.0)
        stats = summarize(records, self.frontier.counts(), len(self.frontier.queue), elapsed)
        stats["requests"] = before.get("requests", 0) + requests
        stats["subresources_blocked"] = dict(Counter(before.get("subresources_blocked", {}))
                                             + blocked)
        stats_path.write_text(json.dumps(stats, indent=2, ensure_ascii=False))
        return stats


def _is_http(url: str) -> bool:
    try:
        normalize(url)
    except Refused:
        return False
    return True


def summarize(records: Sequence[PageRecord], outcomes: Counter[str], queued: int,
              elapsed: float) -> dict:
    kept = [r for r in records if r.kept]
    rejected = Counter({k: v for k, v in outcomes.items() if k != CAPTURED})
    rejected.update(r.reason for r in records if not r.kept)
    return {
        "urls_discovered": sum(outcomes.values()) + queued,
        "captured": len(records),
        "kept": len(kept),
        "rejected": dict(rejected.most_common()),
        "queued": queued,
        "categories": dict(Counter(r.category for r in kept).most_common()),
        "sites": dict(Counter(urlsplit(r.final_url).netloc for r in kept).most_common()),
        "languages": dict(Counter(r.language for r in kept).most_common()),
        "complexity": dict(Counter(r.complexity for r in kept).most_common()),
        "redirected": sum(bool(r.redirects) for r in records),
        "archive_bytes": sum(r.archive_bytes for r in kept),
        "elapsed_s": round(elapsed, 3),
        "pages_per_s": round(len(records) / elapsed, 3) if elapsed else 0.0,
    }


def crawl(cfg: RunConfig, seeds: Sequence[str], out: Path,
          on_progress: Callable[[Progress], None] | None = None) -> dict:
    """Crawl (or resume crawling) into `out`; returns the stats also in crawl_stats.json."""
    return asyncio.run(Crawl(cfg, out, on_progress).run(seeds))


def read_stats(out: Path) -> dict:
    path = out / STATS_FILE
    return json.loads(path.read_text()) if path.exists() else {}
