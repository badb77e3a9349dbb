"""An OpenAI-compatible chat-completions endpoint (vLLM, sglang, a gateway, a hosted API), with
retries and backoff on rate limits and server errors, and one clear error for what retrying
cannot fix (a refused key, an unknown model, a rejected request)."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import openai

log = logging.getLogger(__name__)

# Thinking models spend small budgets on hidden reasoning and return empty content
DEFAULT_MAX_TOKENS = 16384
RETRYABLE = (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError,
             openai.APITimeoutError)


class EndpointError(RuntimeError):
    """The endpoint refused the requests in a way that retrying cannot fix."""


@dataclass(frozen=True)
class Completion:
    content: str
    finish_reason: str | None


@dataclass
class ChatClient:
    base_url: str
    model: str
    api_key: str | None = None  # default: $OPENAI_API_KEY, else a placeholder local servers accept
    temperature: float = 0.0
    max_tokens: int = DEFAULT_MAX_TOKENS
    retries: int = 6
    backoff_s: float = 1.0  # first wait; doubled on every retry, capped at max_backoff_s
    max_backoff_s: float = 60.0
    timeout_s: float = 600.0
    retried: int = field(default=0, init=False)  # retries over all calls, for the summary
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        key = self.api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY"
        # retries are ours, so that every wait is counted and bounded the same way
        self._client = openai.OpenAI(base_url=self.base_url, api_key=key, max_retries=0,
                                     timeout=self.timeout_s)

    def complete(self, content: list[dict[str, Any]] | str) -> Completion:
        """One user message; the assistant's reply."""
        for attempt in range(self.retries + 1):
            try:
                response = self._client.chat.completions.create(
                    model=self.model, temperature=self.temperature,
                    max_completion_tokens=self.max_tokens,
                    messages=[{"role": "user", "content": content}])
            except RETRYABLE as e:
                if attempt == self.retries:
                    raise EndpointError(f"{self.base_url}: gave up after {attempt + 1} attempts: "
                                        f"{_describe(e)}") from e
                with self._lock:
                    self.retried += 1
                delay = self._delay(attempt, e)
                log.debug("%s; retrying in %.2f s", _describe(e), delay)
                time.sleep(delay)
                continue
            except openai.APIStatusError as e:
                raise EndpointError(self._explain(e)) from e
            choice = response.choices[0] if response.choices else None
            if choice is None:
                return Completion("", None)
            return Completion(choice.message.content or "", choice.finish_reason)
        raise AssertionError("unreachable")

    def _delay(self, attempt: int, error: Exception) -> float:
        """The server's Retry-After when it sends one, else exponential backoff."""
        response = getattr(error, "response", None)
        header = response.headers.get("retry-after") if response is not None else None
        try:
            if header is not None:
                return min(float(header), self.max_backoff_s)
        except ValueError:
            pass  # an HTTP date: fall back to our own schedule
        return min(self.backoff_s * 2 ** attempt, self.max_backoff_s)

    def _explain(self, e: openai.APIStatusError) -> str:
        status = e.status_code
        where = f"{self.base_url} answered {status}"
        if status in (401, 403):
            return (f"{where}: the API key was refused; pass --api-key or set OPENAI_API_KEY "
                    f"({_describe(e)})")
        if status == 404:
            return (f"{where}: no model '{self.model}' there, or the URL is not an "
                    f"OpenAI-compatible base (it usually ends in /v1) ({_describe(e)})")
        return f"{where}: {_describe(e)}"


def _describe(e: Exception) -> str:
    if isinstance(e, openai.APIStatusError):
        body = e.body.get("error", e.body) if isinstance(e.body, dict) else None
        message = body.get("message") if isinstance(body, dict) else None
        return f"HTTP {e.status_code}: {message or e.message}"
    return f"{type(e).__name__}: {e}"


class Progress(Protocol):
    """Told how many requests a command will make, then of each one done (from any thread)."""

    def start(self, total: int) -> None: ...

    def advance(self) -> None: ...


T = TypeVar("T")
U = TypeVar("U")


def map_concurrently(fn: Callable[[T], U], items: Iterable[T], concurrency: int) -> Iterator[U]:
    """fn over items on `concurrency` threads, results in completion order. At most twice
    `concurrency` items are taken from `items` ahead, so a stream of images stays a stream.
    The first exception stops the submission of new items and is raised once running ones end."""
    source = iter(items)
    with ThreadPoolExecutor(concurrency) as pool:
        running: set[Future[U]] = set()

        def top_up() -> None:
            for item in source:
                running.add(pool.submit(fn, item))
                if len(running) >= 2 * concurrency:
                    break

        top_up()
        while running:
            done, running = wait(running, return_when=FIRST_COMPLETED)
            failed = [f for f in done if f.exception() is not None]
            if failed:
                for f in running:
                    f.cancel()
                wait(running)
                yield from (f.result() for f in done if f.exception() is None)
                raise failed[0].exception()  # type: ignore[misc]
            yield from (f.result() for f in done)
            top_up()
