"""`spotdiff eval score`: DiffSpot's metrics from the judge's verdicts, plus multi-change metrics.

DiffSpot's definitions: a has-diff pair is a hit when any of its mutations is judged `correct`; a
no-diff pair is a hit when nothing is hallucinated; Overall accuracy = hits / pairs; Easy,
Medium, Hard and Diff recall over the has-diff pairs; No-Diff specificity over the controls.
Recall per operator and per operator × tier counts mutations (for one-mutation pairs the same as
counting pairs). For pairs with 2-3 mutations: per-mutation recall, count accuracy (the answer
reports as many changes as were made: those the judge tied to a mutation plus the hallucinated
ones) and per-type F1 (a correct mutation is a true positive of its type, any other mutation a
false negative, a hallucination a false positive of the type the judge gave it).

A pair with no verdict (an empty prediction, or a judge that never replied with valid JSON) is a
miss; both are counted. Only judged pairs are scored; `coverage` says how many of the dataset's.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel

from spotdiff.eval.items import DatasetError, EvalItem
from spotdiff.eval.records import Judgment, Verdict
from spotdiff.records import TIERS


class Rate(BaseModel):
    hits: int = 0
    n: int = 0

    @property
    def value(self) -> float | None:
        return self.hits / self.n if self.n else None

    def add(self, hit: bool) -> None:
        self.hits += int(hit)
        self.n += 1


class TypeF1(BaseModel):
    tp: int = 0
    fp: int = 0
    fn: int = 0
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None


class MultiScores(BaseModel):
    pairs: int
    mutation_recall: Rate
    count_accuracy: Rate
    per_type: dict[str, TypeF1]
    macro_f1: float | None


class ItemOutcome(BaseModel):
    id: str
    split: str
    operator: str
    hit: bool
    outcome: str
    verdicts: list[Verdict]
    hallucinations: list[str]
    prediction: str


class Scores(BaseModel):
    model: str
    prompt_version: str
    judge_model: str
    judge_prompt_version: str
    pairs_in_dataset: int
    pairs_scored: int
    empty_predictions: int
    judge_malformed: int
    overall_accuracy: Rate
    recall: dict[str, Rate]  # easy, medium, hard, diff
    no_diff_specificity: Rate
    by_operator: dict[str, Rate]
    by_operator_tier: dict[str, dict[str, Rate]]
    multi: MultiScores | None
    items: list[ItemOutcome]

    def headline(self) -> list[tuple[str, Rate]]:
        """DiffSpot's six numbers, in its order."""
        return [("Easy recall", self.recall["easy"]), ("Medium recall", self.recall["medium"]),
                ("Hard recall", self.recall["hard"]), ("Diff recall", self.recall["diff"]),
                ("No-Diff specificity", self.no_diff_specificity),
                ("Overall accuracy", self.overall_accuracy)]

    def to_json(self) -> dict:
        """The scores with each rate's value beside its counts."""
        def expand(node: object) -> object:
            if isinstance(node, Rate):
                return {"value": node.value, "hits": node.hits, "n": node.n}
            if isinstance(node, BaseModel):
                return {k: expand(getattr(node, k)) for k in type(node).model_fields}
            if isinstance(node, dict):
                return {k: expand(v) for k, v in node.items()}
            if isinstance(node, list):
                return [expand(v) for v in node]
            return node
        return expand(self)  # type: ignore[return-value]


def _f1(t: TypeF1) -> TypeF1:
    p = t.tp / (t.tp + t.fp) if t.tp + t.fp else None
    r = t.tp / (t.tp + t.fn) if t.tp + t.fn else None
    f = 2 * t.tp / (2 * t.tp + t.fp + t.fn) if t.tp + t.fp + t.fn else None
    return t.model_copy(update={"precision": p, "recall": r, "f1": f})


def _verdicts(item: EvalItem, j: Judgment) -> list[Verdict]:
    return [v.verdict for v in j.label.mutations] if j.label else ["missed"] * len(item.mutations)


def _multi(pairs: list[tuple[EvalItem, Judgment]]) -> MultiScores | None:
    if not pairs:
        return None
    recall, count = Rate(), Rate()
    per_type: dict[str, TypeF1] = defaultdict(TypeF1)
    for item, j in pairs:
        verdicts = _verdicts(item, j)
        hallucinated = j.label.hallucinations if j.label else []
        for m, v in zip(item.mutations, verdicts, strict=True):
            recall.add(v == "correct")
            if v == "correct":
                per_type[m["type"]].tp += 1
            else:
                per_type[m["type"]].fn += 1
        for h in hallucinated:
            per_type[h.type].fp += 1
        reported = sum(v != "missed" for v in verdicts) + len(hallucinated)
        count.add(j.label is not None and reported == len(item.mutations))
    f1s = {t: _f1(s) for t, s in sorted(per_type.items())}
    known = [s.f1 for s in f1s.values() if s.f1 is not None]
    return MultiScores(pairs=len(pairs), mutation_recall=recall, count_accuracy=count,
                       per_type=f1s, macro_f1=sum(known) / len(known) if known else None)


def score(items: list[EvalItem], judgments: Iterable[Judgment]) -> Scores:
    by_id = {item.id: item for item in items}
    judged = list(judgments)
    unknown = [j.id for j in judged if j.id not in by_id]
    if unknown:
        raise DatasetError(f"{len(unknown)} judgments name ids not in the dataset (first: "
                           f"{unknown[0]}): were they made on another dataset?")
    overall, specificity = Rate(), Rate()
    recall = {t: Rate() for t in (*TIERS, "diff")}
    by_op: dict[str, Rate] = defaultdict(Rate)
    by_op_tier: dict[str, dict[str, Rate]] = defaultdict(lambda: defaultdict(Rate))
    multi: list[tuple[EvalItem, Judgment]] = []
    outcomes = []
    for j in judged:
        item = by_id[j.id]
        verdicts = _verdicts(item, j)
        if item.has_diff:
            hit = "correct" in verdicts
            recall[item.split].add(hit)
            recall["diff"].add(hit)
            for m, v in zip(item.mutations, verdicts, strict=True):
                by_op[m["type"]].add(v == "correct")
                by_op_tier[m["type"]][m["tier"]].add(v == "correct")
            if len(item.mutations) > 1:
                multi.append((item, j))
        else:
            hit = j.label is not None and not j.label.hallucinations
            specificity.add(hit)
        overall.add(hit)
        outcomes.append(ItemOutcome(
            id=j.id, split=item.split,
            operator="+".join(m["type"] for m in item.mutations) or "none", hit=hit,
            outcome=j.outcome, verdicts=verdicts,
            hallucinations=[h.claim for h in j.label.hallucinations] if j.label else [],
            prediction=j.prediction))
    first = judged[0] if judged else None
    return Scores(
        model=first.model if first else "", prompt_version=first.prompt_version if first else "",
        judge_model=first.judge_model if first else "",
        judge_prompt_version=first.judge_prompt_version if first else "",
        pairs_in_dataset=len(items), pairs_scored=len(judged),
        empty_predictions=sum(j.outcome == "empty_prediction" for j in judged),
        judge_malformed=sum(j.outcome == "malformed" for j in judged),
        overall_accuracy=overall, recall=recall, no_diff_specificity=specificity,
        by_operator=dict(sorted(by_op.items())),
        by_operator_tier={op: {t: tiers[t] for t in TIERS if t in tiers}
                          for op, tiers in sorted(by_op_tier.items())},
        multi=_multi(multi), items=outcomes)


def write_scores(scores: Scores, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(scores.to_json(), indent=1, ensure_ascii=False), encoding="utf-8")
