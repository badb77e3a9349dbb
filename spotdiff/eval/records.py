"""The records `spotdiff eval` writes, one JSON line each, and the append-only files holding them.

A prediction line has the keys DiffSpot's submission check and scorer read (`id`, `split`,
`model`, `prompt_version`, `prediction`, `raw_response`); a judgment line adds the judge's verdict
per mutation and the changes it found hallucinated.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

Split = Literal["easy", "medium", "hard", "no_diff"]
Verdict = Literal["correct", "partial", "missed"]


class Prediction(BaseModel):
    id: str
    split: Split
    model: str
    prompt_version: str
    prediction: str  # the answer with any reasoning block removed; "" when there was none
    raw_response: str  # the message content exactly as the endpoint returned it
    finish_reason: str | None = None


class MutationVerdict(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str
    verdict: Verdict
    evidence: str = ""  # the words of the answer the verdict rests on

    @field_validator("verdict", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value


class Hallucination(BaseModel):
    model_config = ConfigDict(extra="ignore")
    claim: str
    type: str = "other"  # the kind of change claimed, one of the dataset's operators or "other"


class JudgeLabel(BaseModel):
    """What the judge answers: one verdict per ground-truth mutation, in their order, and every
    change the prediction claims that matches none of them."""

    model_config = ConfigDict(extra="ignore")
    mutations: list[MutationVerdict]
    hallucinations: list[Hallucination]


class Judgment(BaseModel):
    id: str
    split: Split
    model: str  # the model whose prediction was judged
    prompt_version: str  # the prediction prompt it answered
    judge_model: str
    judge_prompt_version: str
    prediction: str
    # judged: `label` holds the verdicts; empty_prediction: nothing to judge, no judge asked;
    # malformed: the judge never replied with valid JSON (`error` says what was wrong)
    outcome: Literal["judged", "empty_prediction", "malformed"]
    label: JudgeLabel | None = None
    error: str | None = None


R = TypeVar("R", Prediction, Judgment)


class RecordFileError(ValueError):
    """A records file cannot be read, or holds records of another run; the message names the
    file, the line and the reason."""


class RecordLog(Generic[R]):
    """An append-only JSONL file of records, one per dataset id, so that a re-run resumes.

    A line cut short by a kill is dropped when the file is opened again."""

    def __init__(self, path: Path, model: type[R]):
        self.path = path
        self.model = model

    def read(self) -> list[R]:
        if not self.path.exists():
            return []
        out = []
        lines = self.path.read_text(encoding="utf-8").split("\n")
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                out.append(self.model.model_validate_json(line))
            except ValidationError as e:
                if number == len(lines):  # the unterminated last line of an interrupted run
                    break
                first = e.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "<line>"
                raise RecordFileError(f"{self.path}:{number}: key '{where}': {first['msg']}") from e
        return out

    def read_matching(self, **expected: str) -> list[R]:
        """The records, refusing a file whose records differ from `expected` (another model,
        another prompt version), whose ids would then be skipped by mistake."""
        records = self.read()
        for number, record in enumerate(records, 1):
            for key, value in expected.items():
                if getattr(record, key) != value:
                    raise RecordFileError(
                        f"{self.path}: record {number}: key '{key}' is '{getattr(record, key)}', "
                        f"not '{value}': this file is another run's; use another --out")
        return records

    def drop_partial_line(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            self.path.write_bytes(data[: data.rfind(b"\n") + 1])

    def append(self, records: Iterable[R]) -> int:
        """Append records as they come, each flushed at once; returns how many."""
        self.drop_partial_line()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        n = 0
        with self.path.open("a", encoding="utf-8") as f:
            for record in records:
                f.write(json.dumps(record.model_dump(mode="json"), ensure_ascii=False) + "\n")
                f.flush()
                n += 1
        return n
