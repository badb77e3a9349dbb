"""Serve the two crawl test sites on loopback: site A on 127.0.0.1, site B named localhost, each
on its own port, counting every request by path."""

from __future__ import annotations

import contextlib
import http.server
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

SITES = Path(__file__).resolve().parent
TEMPLATED = {".html", ".xml", ".txt"}
SLOW_S = 6.0


@dataclass
class Sites:
    a: str = ""  # base URLs, no trailing slash
    b: str = ""
    hits: Counter[str] = field(default_factory=Counter)  # "a:/path?query" → requests
    log: list[tuple[float, str, str, str]] = field(default_factory=list)  # time, site, agent, path
    servers: list[http.server.ThreadingHTTPServer] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, site: str, path: str, agent: str) -> None:
        with self._lock:
            self.hits[f"{site}:{path}"] += 1
            self.log.append((time.monotonic(), site, agent, path))

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()
        self.servers.clear()


def _handler(sites: Sites, name: str) -> type[http.server.SimpleHTTPRequestHandler]:
    root = SITES / name

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self) -> None:  # noqa: N802
            sites.count(name, self.path, self.headers.get("User-Agent", ""))
            path = self.path.split("?", 1)[0]
            path = path + "index.html" if path.endswith("/") else path
            if path == "/old":
                self.redirect("/docs/moved.html", 301)
            elif path == "/go-internal":
                self.redirect("http://10.0.0.1/", 302)
            elif path == "/download":
                self.reply(b"PK\x03\x04 not really a zip", "application/zip")
            elif path == "/slow.html":
                time.sleep(SLOW_S)
                self.reply(b"<!doctype html><title>Slow</title><p>Finally.</p>", "text/html")
            elif Path(path).suffix in TEMPLATED and (root / path.lstrip("/")).is_file():
                text = (root / path.lstrip("/")).read_text(encoding="utf-8")
                text = text.replace("__A__", sites.a).replace("__B__", sites.b)
                kind = {".html": "text/html", ".xml": "application/xml"}.get(Path(path).suffix,
                                                                             "text/plain")
                self.reply(text.encode(), f"{kind}; charset=utf-8")
            else:
                super().do_GET()

        def redirect(self, location: str, status: int) -> None:
            self.send_response(status)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def reply(self, body: bytes, content_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(ConnectionError):  # the crawler gave up on the slow page
                self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def serve_sites() -> Sites:
    sites = Sites()
    for name in ("a", "b"):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(sites, name))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        sites.servers.append(server)
    sites.a = f"http://127.0.0.1:{sites.servers[0].server_address[1]}"
    sites.b = f"http://localhost:{sites.servers[1].server_address[1]}"
    return sites
