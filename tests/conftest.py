"""Shared fixtures: pages served on 127.0.0.1, a renderer, and the development corpus."""

from __future__ import annotations

import asyncio
import http.server
import os

# No model hub is reachable from tests: open_clip must not probe for one.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from spotdiff.config import RunConfig, load_config
from spotdiff.generator.sources import serve_directory
from spotdiff.records import Element, Mutation, Page

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
SHARED_CORPUS = REPO.parent / "shared" / "corpus"
CORPUS_CACHE = Path(os.environ.get("SPOTDIFF_CORPUS",
                                   Path.home() / ".cache" / "spotdiff" / "dev-corpus"))


def inline_style(selector: str, prop: str, value: str) -> Mutation:
    """An inline style change on the element `selector` finds, for driving the renderer alone."""
    element = Element(index=0, selector=selector, xpath="", tag="", kind="", text="",
                      landmark="", box=(0, 0, 0, 0), flags=frozenset(), styles={})
    return Mutation(operator="", mechanism="style", element=element, property=prop,
                    old_value="", new_value=value, direction="", magnitude=0, tier="")


def run(coro):  # noqa: ANN001, ANN201 - tests drive the async renderer with plain asyncio
    return asyncio.run(coro)


@pytest.fixture(scope="session")
def cfg() -> RunConfig:
    return load_config()


@pytest.fixture(scope="session")
def test_site() -> Iterator[str]:
    """tests/pages served on 127.0.0.1, plus /hang which never answers in time."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):  # noqa: ANN002, ANN003
            super().__init__(*args, directory=str(TESTS / "pages"), **kwargs)

        def do_GET(self) -> None:  # noqa: N802
            if self.path.startswith("/hang"):
                time.sleep(8)
            super().do_GET()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def ensure_corpus() -> Path:
    """The development corpus, built from ../shared/corpus into a cache directory when missing."""
    marker = CORPUS_CACHE / ".complete"
    if marker.exists():
        return CORPUS_CACHE
    script = SHARED_CORPUS / "build-dev-corpus.sh"
    if not script.exists():
        pytest.skip("the development corpus needs ../shared/corpus (not shipped to users)")
    build = ["bash", str(script), str(CORPUS_CACHE)]
    if subprocess.run(build, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True)
        subprocess.run(build, check=True, capture_output=True)
    marker.touch()
    return CORPUS_CACHE


@pytest.fixture(scope="session")
def corpus_sources() -> list[dict]:
    import json

    ensure_corpus()
    return json.loads((SHARED_CORPUS / "dev-pages.json").read_text())


@pytest.fixture(scope="session")
def serve_corpus(corpus_sources: list[dict]) -> Iterator:
    """Call with a list of (source, count) to get Pages; each source's root is served on its
    own port, as the corpus notes require."""
    from contextlib import ExitStack

    with ExitStack() as stack:
        bases: dict[str, str] = {}

        def pages(wanted: list[tuple[str, int]]) -> list[Page]:
            out = []
            by_name = {s["source"]: s for s in corpus_sources}
            for name, count in wanted:
                source = by_name[name]
                if name not in bases:
                    root = CORPUS_CACHE / source["root"]
                    bases[name] = stack.enter_context(serve_directory(root))
                step = max(1, len(source["pages"]) // count)
                for path in source["pages"][::step][:count]:
                    out.append(Page(url=bases[name] + path, domain=name, key=f"{name}:{path}"))
            return out

        yield pages


@pytest.fixture(scope="session")
def sample_dataset(tmp_path_factory) -> Path:
    """A small real dataset (4 pages of the bundled sample web, 9 pairs + 4 no-diff controls),
    generated once for the card and eval tests."""
    from typer.testing import CliRunner

    from spotdiff.cli import app

    out = tmp_path_factory.mktemp("sample") / "sample-ds"
    config = out.parent / "run.yaml"
    config.write_text("clip: {backend: none}\nlicense: cc-by-sa-4.0\n")
    result = CliRunner().invoke(app, [
        "generate", "--site", str(REPO / "spotdiff" / "sampleweb" / "site"), "--out", str(out),
        "--pairs", "9", "--no-diff", "4", "--max-pages", "4", "--workers", "1", "--seed", "1",
        "--config", str(config)])
    assert result.exit_code == 0, result.output
    return out
