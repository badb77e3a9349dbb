"""Where pages come from: a URL list, or a local directory of pages served on 127.0.0.1."""

from __future__ import annotations

import contextlib
import functools
import json
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path
from urllib.parse import urlsplit

from spotdiff.records import Page

# `--site sample`: the sample web shipped inside the package
SAMPLE_SITE = Path(str(files("spotdiff") / "sampleweb" / "site"))


class UrlFileError(ValueError):
    """A URL file cannot be read or has bad lines; one `file:line: reason` line each."""


def pages_from_urls_file(path: Path) -> list[Page]:
    """One URL a line, optionally followed by a domain category (else the page is classified
    once loaded); '#' starts a comment. Every line is checked before any error is raised."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UrlFileError(f"{path}: cannot read: {getattr(e, 'strerror', None) or e}") from e
    pages, errors = [], []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        url = fields[0]
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            errors.append(f"{path}:{number}: not an http(s) URL: {url}")
            continue
        pages.append(Page(url=url, domain=fields[1] if len(fields) > 1 else None))
    if errors:
        raise UrlFileError("\n".join(errors))
    return pages


def site_root(site: Path) -> Path:
    """The directory `--site` serves: `sample` names the bundled sample web unless a directory
    of that name exists here."""
    return SAMPLE_SITE if str(site) == "sample" and not site.is_dir() else site


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # a browser closing its context mid-response is routine, not a traceback on the console
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextlib.contextmanager
def serve_directory(root: Path, port: int = 0, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve `root` on a loopback address in a background thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = _QuietServer((host, port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def pages_from_site(root: Path, base_url: str) -> list[Page]:
    """The pages of a served directory: from its manifest.json when present, else every .html."""
    manifest = root / "manifest.json"
    if manifest.exists():
        entries = json.loads(manifest.read_text(encoding="utf-8"))["pages"]
        return [Page(url=base_url + e["path"], domain=e.get("category"),
                     language=e.get("language"), key=f"site:{e['path']}") for e in entries]
    paths = [p.relative_to(root).as_posix() for p in sorted(root.rglob("*.html"))]
    return [Page(url=base_url + p, key=f"site:{p}") for p in paths]
