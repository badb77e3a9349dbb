"""`spotdiff eval judge`: an LLM judge reads the ground-truth mutations, their sentence and a
prediction, and returns a verdict per mutation and the changes it finds hallucinated, as JSON
validated with pydantic. Malformed replies are sent back for correction, then counted."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from spotdiff.eval.client import ChatClient, Progress, map_concurrently
from spotdiff.eval.items import DatasetError, EvalItem
from spotdiff.eval.records import JudgeLabel, Judgment, Prediction, RecordLog
from spotdiff.eval.templates import Prompt

NO_CHANGE = "Nothing was changed: the two screenshots are two renderings of the same page."


class MalformedReply(ValueError):
    pass


@dataclass(frozen=True)
class JudgeSummary:
    total: int  # predictions to judge
    skipped: int  # already judged
    written: int
    malformed: int  # over the whole file: no valid verdict after every attempt
    empty: int  # empty predictions: no verdict asked for
    retries: int


def judge_prompt(prompt: Prompt, item: EvalItem, prediction: str, types: list[str]) -> str:
    # str.replace, not format: the prompt's own JSON example has braces
    changes = item.judge_mutations()
    return (prompt.text
            .replace("{types}", ", ".join(f'"{t}"' for t in types))
            .replace("{changes}", json.dumps(changes, ensure_ascii=False, indent=2))
            .replace("{sentence}", item.sentence if item.has_diff else NO_CHANGE)
            .replace("{answer}", prediction))


def parse_label(text: str, item: EvalItem, types: list[str]) -> JudgeLabel:
    """The judge's JSON (code fences and prose around it tolerated), with one verdict per
    mutation; hallucinations of an unknown type become "other"."""
    body = text.strip()
    start, end = body.find("{"), body.rfind("}")
    if start < 0 or end < start:
        raise MalformedReply("no JSON object in the reply")
    try:
        label = JudgeLabel.model_validate_json(body[start:end + 1])
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "<root>"
        raise MalformedReply(f"key '{where}': {first['msg']}") from e
    if len(label.mutations) != len(item.mutations):
        raise MalformedReply(f"{len(label.mutations)} verdicts for {len(item.mutations)} changes")
    for verdict, truth in zip(label.mutations, item.mutations, strict=True):
        verdict.type = truth["type"]  # verdicts are matched by position
    for h in label.hallucinations:
        if h.type not in types:
            h.type = "other"
    return label


def ask_judge(client: ChatClient, prompt: Prompt, item: EvalItem, prediction: Prediction,
              types: list[str], attempts: int) -> Judgment:
    base = {"id": item.id, "split": item.split, "model": prediction.model,
            "prompt_version": prediction.prompt_version, "judge_model": client.model,
            "judge_prompt_version": prompt.version, "prediction": prediction.prediction}
    if not prediction.prediction:
        return Judgment(**base, outcome="empty_prediction")
    question = judge_prompt(prompt, item, prediction.prediction, types)
    error = ""
    for _ in range(attempts):
        # a repeated question at temperature 0 gets the same reply: say what was wrong
        text = question if not error else (
            f"{question}\n\nA previous reply to this was not valid ({error}). Reply with the "
            "JSON object only.")
        try:
            label = parse_label(client.complete(text).content, item, types)
        except MalformedReply as e:
            error = str(e)
            continue
        return Judgment(**base, outcome="judged", label=label)
    return Judgment(**base, outcome="malformed", error=error)


def judge(dataset_items: list[EvalItem], predictions: list[Prediction], client: ChatClient,
          prompt: Prompt, types: list[str], out: Path, concurrency: int = 4,
          attempts: int = 3, progress: Progress | None = None) -> JudgeSummary:
    by_id = {item.id: item for item in dataset_items}
    unknown = [p.id for p in predictions if p.id not in by_id]
    if unknown:
        raise DatasetError(f"{len(unknown)} predictions name ids not in the dataset (first: "
                           f"{unknown[0]}): were they made on another dataset?")
    log = RecordLog(out, Judgment)
    expected = {"judge_model": client.model, "judge_prompt_version": prompt.version}
    if predictions:
        expected |= {"model": predictions[0].model,
                     "prompt_version": predictions[0].prompt_version}
    seen = {j.id for j in log.read_matching(**expected)}
    todo = [p for p in predictions if p.id not in seen]
    if progress:
        progress.start(len(todo))

    def one(prediction: Prediction) -> Judgment:
        judgment = ask_judge(client, prompt, by_id[prediction.id], prediction, types, attempts)
        if progress:
            progress.advance()
        return judgment

    written = log.append(map_concurrently(one, todo, concurrency))
    records = log.read()
    return JudgeSummary(
        total=len(predictions), skipped=len(predictions) - len(todo), written=written,
        malformed=sum(r.outcome == "malformed" for r in records),
        empty=sum(r.outcome == "empty_prediction" for r in records), retries=client.retried)
