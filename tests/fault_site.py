"""A site on 127.0.0.1 whose pages fail in every way a real page can: each path is one fault.

Good pages are tests/pages/*.html as they are; the rest are made here. The fault table in the
README is produced by tests/test_faults.py from these pages.
"""

from __future__ import annotations

import contextlib
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

PAGES = Path(__file__).resolve().parent / "pages"


def _page(title: str, body: str, script: str = "") -> str:
    filler = "".join(f"<p>Paragraph {i} of a page that is long enough to use.</p>"
                     for i in range(6))
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
            f"</head><body><h1>{title}</h1>{body}{filler}<script>{script}</script></body></html>")


STALL_S = 30  # a response that never finishes within any test's timeouts

# path -> (the fault, the page)
FAULT_PAGES: dict[str, tuple[str, str]] = {
    "dialogs.html": ("alert, confirm and print dialogs", _page(
        "Dialogs", "<button>Ok</button>",
        "alert('hello'); confirm('sure?'); print();"
        "addEventListener('load', () => setTimeout(() => alert('again'), 50));")),
    "popups.html": ("window.open pop-ups", _page(
        "Pop-ups", "<button id=b>Open</button>",
        "window.open('/popups.html?child', '_blank');"
        "addEventListener('load', () => window.open('about:blank'));")),
    "huge.html": ("50,000 elements", _page(
        "Huge", "<div>" + "".join(f"<span>cell {i}</span>" for i in range(50_000)) + "</div>")),
    "animated.html": ("endless JS animation", _page(
        "Animated", "<div id=m style='width:120px;height:40px;background:#36c'></div>",
        "let n = 0; const m = document.getElementById('m');"
        "(function f() { m.style.marginLeft = (n++ % 200) + 'px';"
        " requestAnimationFrame(f); })();")),
    "spin.html": ("CPU spin (`while(true)`) after load", _page(
        "Spin", "<p>spins</p>",
        "addEventListener('load', () => setTimeout(() => { while (true) {} }, 0));")),
    "crash.html": ("renderer crash (out of memory)", _page(
        "Crash", "<p>allocates until the renderer dies</p>",
        "addEventListener('load', () => { const a = [];"
        " while (true) a.push(new Array(1e6).fill(Math.random())); });")),
    "stalls.html": ("never finishes loading", _page(
        "Stalls", "<img src='/stall.png' width=10 height=10>")),
}


class FaultHandler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args, **kwargs):  # noqa: ANN002, ANN003
        super().__init__(*args, directory=str(PAGES), **kwargs)

    def _send(self, status: int, body: str = "", headers: dict[str, str] | None = None) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.lstrip("/").split("?")[0]
        if path == "missing.html":
            self._send(404, _page("Not found", "<p>gone</p>"))
        elif path == "error.html":
            self._send(500, _page("Server error", "<p>broken</p>"))
        elif path == "loop.html":
            self._send(302, headers={"Location": "/loop.html"})
        elif path == "offsite.html":
            self._send(302, headers={"Location": "http://example.com/"})
        elif path == "stall.png":
            time.sleep(STALL_S)
        elif path in FAULT_PAGES:
            self._send(200, FAULT_PAGES[path][1])
        else:
            super().do_GET()

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve_faults() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FaultHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
