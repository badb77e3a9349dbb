"""`spotdiff eval predict|judge|score`: the typer commands; the work is in predict.py, judge.py
and score.py (imported when a command runs, so `spotdiff --help` stays quick)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from spotdiff.console import console, fail, out_console

if TYPE_CHECKING:
    from spotdiff.eval.client import ChatClient
    from spotdiff.eval.score import Rate, Scores

eval_app = typer.Typer(no_args_is_help=True, help=(
    "Evaluate models on a generated dataset: predict (ask a vision-language model about every "
    "pair), judge (an LLM grades the answers), score (DiffSpot's metrics)."))

DatasetArg = Annotated[Path, typer.Argument(help="A directory written by `spotdiff generate`.")]
BaseUrl = Annotated[str, typer.Option(help=(
    "OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1 (vLLM, sglang, a gateway)."))]
ApiKey = Annotated[str | None, typer.Option(envvar="OPENAI_API_KEY", show_envvar=True, help=(
    "API key; local servers accept any."))]
Concurrency = Annotated[int, typer.Option(min=1, help="Requests in flight at once.")]
MaxTokens = Annotated[int, typer.Option(min=1, help=(
    "Completion budget; thinking models spend small ones on hidden reasoning and return "
    "nothing."))]
Retries = Annotated[int, typer.Option(min=0, help="Retries on 429, 5xx and lost connections.")]


def slug(model: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", model).strip("_") or "model"


def _client(base_url: str, model: str, api_key: str | None, max_tokens: int,
            retries: int) -> ChatClient:
    from spotdiff.eval.client import ChatClient

    return ChatClient(base_url=base_url, model=model, api_key=api_key, max_tokens=max_tokens,
                      retries=retries)


class _Bar:
    def __init__(self, progress: Progress, label: str):
        self.progress = progress
        self.task = progress.add_task(label, total=None)

    def start(self, total: int) -> None:
        self.progress.update(self.task, total=total)

    def advance(self) -> None:
        self.progress.advance(self.task)


@contextmanager
def _progress(label: str) -> Iterator[_Bar]:
    with Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console) as progress:
        yield _Bar(progress, label)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Bad input and refusing endpoints end in one line, no traceback."""
    from spotdiff.eval.client import EndpointError
    from spotdiff.eval.items import DatasetError
    from spotdiff.eval.records import RecordFileError
    from spotdiff.eval.templates import PromptNotFound

    try:
        yield
    except (EndpointError, DatasetError, RecordFileError, PromptNotFound) as e:
        fail(str(e))


@eval_app.command("predict")
def predict_command(
    dataset: DatasetArg,
    model: Annotated[str, typer.Option(help="Model name as the endpoint knows it.")],
    base_url: BaseUrl,
    api_key: ApiKey = None,
    out: Annotated[Path | None, typer.Option(help=(
        "predictions.jsonl to write or resume. Default: DATASET/eval/MODEL/predictions.jsonl."))
    ] = None,
    concurrency: Concurrency = 4,
    max_tokens: MaxTokens = 16384,
    retries: Retries = 6,
    prompt_version: Annotated[str, typer.Option(help="Prediction prompt version.")] = "v1",
    limit: Annotated[int | None, typer.Option(min=1, help="Ask about at most N more pairs.")
    ] = None,
) -> None:
    """Send every pair (before image first, after image second) with the versioned prompt and
    write the answers to predictions.jsonl. Re-running resumes: ids already written are
    skipped."""
    from spotdiff.eval.predict import predict
    from spotdiff.eval.templates import load_prompt

    out = out or dataset / "eval" / slug(model) / "predictions.jsonl"
    with _user_errors():
        prompt = load_prompt("predict", prompt_version)
        client = _client(base_url, model, api_key, max_tokens, retries)
        with _progress("predict") as bar:
            s = predict(dataset, client, prompt, out, concurrency, limit, bar)
    console.print(f"{s.written} pairs asked, {s.skipped} already in the file, "
                  f"{s.total} in the dataset; {s.empty} empty answers, {s.unparseable} "
                  f"unparseable (reasoning only), {s.retries} retries; wrote {out}")


@eval_app.command("judge")
def judge_command(
    dataset: DatasetArg,
    predictions: Annotated[Path, typer.Option(help="predictions.jsonl written by predict.")],
    model: Annotated[str, typer.Option(help="Judge model name as the endpoint knows it.")],
    base_url: BaseUrl,
    api_key: ApiKey = None,
    out: Annotated[Path | None, typer.Option(help=(
        "judgments.jsonl to write or resume. Default: beside the predictions."))] = None,
    concurrency: Concurrency = 4,
    max_tokens: MaxTokens = 16384,
    retries: Retries = 6,
    attempts: Annotated[int, typer.Option(min=1, help=(
        "Replies asked for before a malformed judgment is counted."))] = 3,
    prompt_version: Annotated[str, typer.Option(help="Judge prompt version.")] = "v1",
) -> None:
    """Grade each prediction against the ground-truth mutations: a verdict per mutation
    (correct | partial | missed) and the hallucinated changes. Re-running resumes."""
    from spotdiff.eval.items import operator_names, read_items
    from spotdiff.eval.judge import judge
    from spotdiff.eval.records import Prediction, RecordLog
    from spotdiff.eval.templates import load_prompt

    out = out or predictions.with_name("judgments.jsonl")
    with _user_errors():
        if not predictions.is_file():
            fail(f"{predictions}: no such file")
        prompt = load_prompt("judge", prompt_version)
        records = RecordLog(predictions, Prediction).read()
        if not records:
            fail(f"{predictions}: no predictions to judge")
        client = _client(base_url, model, api_key, max_tokens, retries)
        with _progress("judge") as bar:
            s = judge(read_items(dataset), records, client, prompt, operator_names(dataset), out,
                      concurrency, attempts, bar)
    console.print(f"{s.written} predictions judged, {s.skipped} already in the file; "
                  f"{s.empty} empty predictions (not sent), {s.malformed} malformed after "
                  f"{attempts} attempts, {s.retries} retries; wrote {out}")


def _cell(rate: Rate) -> str:
    return "–" if rate.value is None else f"{100 * rate.value:.1f}% ({rate.hits}/{rate.n})"


def score_tables(scores: Scores) -> list[Table]:
    from spotdiff.records import TIERS

    head = Table("metric", "score", title=f"{scores.model} (judge {scores.judge_model})")
    for name, rate in scores.headline():
        head.add_row(name, _cell(rate))
    ops = Table("operator", *TIERS, "all", title="Recall per operator × tier (mutations)")
    for op, tiers in scores.by_operator_tier.items():
        ops.add_row(op, *(_cell(tiers[t]) if t in tiers else "" for t in TIERS),
                    _cell(scores.by_operator[op]))
    tables = [head, ops]
    if scores.multi:
        m = scores.multi
        head.add_section()
        head.add_row(f"Per-mutation recall ({m.pairs} pairs with 2-3 changes)",
                     _cell(m.mutation_recall))
        head.add_row("Count accuracy (same pairs)", _cell(m.count_accuracy))
        head.add_row("Macro F1 over types (same pairs)",
                     "–" if m.macro_f1 is None else f"{m.macro_f1:.3f}")
        types = Table("type", "tp", "fp", "fn", "F1", title="Per-type F1, pairs with 2-3 changes")
        for name, t in m.per_type.items():
            types.add_row(name, str(t.tp), str(t.fp), str(t.fn),
                          "–" if t.f1 is None else f"{t.f1:.3f}")
        tables.append(types)
    return tables


@eval_app.command("score")
def score_command(
    dataset: DatasetArg,
    judgments: Annotated[Path, typer.Option(help="judgments.jsonl written by judge.")],
    out: Annotated[Path | None, typer.Option(help="Default: scores.json beside the judgments.")
    ] = None,
) -> None:
    """DiffSpot's six numbers (Easy, Medium, Hard and Diff recall, No-Diff specificity, Overall
    accuracy), recall per operator × tier and, for pairs with several changes, per-mutation
    recall, count accuracy and per-type F1: a table here and scores.json (which `spotdiff
    report` shows)."""
    from spotdiff.eval.items import read_items
    from spotdiff.eval.records import Judgment, RecordLog
    from spotdiff.eval.score import score, write_scores

    out = out or judgments.with_name("scores.json")
    with _user_errors():
        if not judgments.is_file():
            fail(f"{judgments}: no such file")
        judged = RecordLog(judgments, Judgment).read()
        if not judged:
            fail(f"{judgments}: no judgments to score")
        scores = score(read_items(dataset), judged)
    write_scores(scores, out)
    for table in score_tables(scores):
        out_console.print(table)
    out_console.print(f"{scores.pairs_scored} of {scores.pairs_in_dataset} pairs scored · "
                      f"{scores.empty_predictions} empty predictions · {scores.judge_malformed} "
                      f"malformed judgments · prompts: predict {scores.prompt_version}, judge "
                      f"{scores.judge_prompt_version}")
    console.print(f"wrote {out}")
