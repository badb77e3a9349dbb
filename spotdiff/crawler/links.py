"""Links out of fetched HTML, and page URLs out of sitemaps."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from bs4 import BeautifulSoup

NON_HTML_SUFFIXES = (
    ".pdf", ".zip", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".tar", ".exe", ".dmg", ".iso",
    ".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".ico", ".bmp", ".tif", ".tiff", ".avif",
    ".mp3", ".mp4", ".webm", ".ogg", ".wav", ".mov", ".avi", ".css", ".js", ".mjs", ".json",
    ".xml", ".rss", ".atom", ".txt", ".csv", ".woff", ".woff2", ".ttf", ".otf", ".eot",
    ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx", ".odt", ".epub", ".apk", ".deb", ".rpm",
)


def html_links(html: str) -> tuple[str | None, list[str]]:
    """(the document's <base href>, the href of every <a> and <area>, in document order)."""
    soup = BeautifulSoup(html, "html.parser")
    base = soup.find("base", href=True)
    hrefs = [str(tag["href"]) for tag in soup.find_all(("a", "area"), href=True)]
    return (str(base["href"]) if base else None), hrefs


def looks_non_html(url: str) -> bool:
    """A URL whose path names a file type that is never a web page (skipped without a fetch)."""
    path = url.split("?", 1)[0].split("#", 1)[0].lower()
    return path.endswith(NON_HTML_SUFFIXES)


def sitemap_locations(xml: bytes) -> tuple[list[str], list[str]]:
    """(page URLs, nested sitemap URLs) of a sitemap or sitemap index; ([], []) when unreadable."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return [], []
    locs = [el.text.strip() for el in root.iter() if el.tag.endswith("loc") and el.text]
    return ([], locs) if root.tag.endswith("sitemapindex") else (locs, [])
