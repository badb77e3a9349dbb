"""`spotdiff eval predict`: every pair of a dataset sent to a vision-language model, before image
first and after image second, and its answer written to predictions.jsonl (resumable)."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from spotdiff.eval.client import ChatClient, Progress, map_concurrently
from spotdiff.eval.items import EvalItem, iter_with_images, read_items
from spotdiff.eval.records import Prediction, RecordLog
from spotdiff.eval.templates import Prompt

# Reasoning some servers leave in the content; an unclosed block is a budget spent thinking
THINKING = re.compile(r"<think(?:ing)?>.*?(?:</think(?:ing)?>|\Z)", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class PredictSummary:
    total: int  # pairs in the dataset
    skipped: int  # already in the file
    written: int
    empty: int  # over the whole file: the endpoint returned no content
    unparseable: int  # content, but no answer once reasoning is removed (e.g. cut off thinking)
    retries: int


def answer_of(content: str) -> str:
    return THINKING.sub("", content).strip()


def _image(png: bytes) -> dict[str, Any]:
    return {"type": "image_url",
            "image_url": {"url": "data:image/png;base64," + base64.b64encode(png).decode()}}


def message_content(prompt: Prompt, before: bytes, after: bytes) -> list[dict[str, Any]]:
    """Before image, after image, then the question, as the prompt describes them."""
    return [_image(before), _image(after), {"type": "text", "text": prompt.text}]


def predict(dataset_dir: Path, client: ChatClient, prompt: Prompt, out: Path,
            concurrency: int = 4, limit: int | None = None,
            progress: Progress | None = None) -> PredictSummary:
    """Ask about every pair not yet in `out` (at most `limit` of them), appending each answer
    as it arrives."""
    log = RecordLog(out, Prediction)
    seen = {p.id for p in log.read_matching(model=client.model, prompt_version=prompt.version)}
    items = read_items(dataset_dir)
    todo = sum(item.id not in seen for item in items)
    if progress:
        progress.start(todo if limit is None else min(todo, limit))
    jobs = islice((job for job in iter_with_images(dataset_dir, items) if job[0].id not in seen),
                  limit)

    def ask(job: tuple[EvalItem, bytes, bytes]) -> Prediction:
        item, before, after = job
        reply = client.complete(message_content(prompt, before, after))
        record = Prediction(id=item.id, split=item.split, model=client.model,
                            prompt_version=prompt.version, prediction=answer_of(reply.content),
                            raw_response=reply.content, finish_reason=reply.finish_reason)
        if progress:
            progress.advance()
        return record

    written = log.append(map_concurrently(ask, jobs, concurrency))
    records = log.read()
    return PredictSummary(
        total=len(items), skipped=len(seen), written=written,
        empty=sum(not r.raw_response.strip() for r in records),
        unparseable=sum(bool(r.raw_response.strip()) and not r.prediction for r in records),
        retries=client.retried)
