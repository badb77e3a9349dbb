"""A small, configurable domain classifier: keyword rules over URL, title and text (YAML)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pydantic import Field, model_validator

from spotdiff.config import ConfigError, Strict, read_yaml, validate


class Rule(Strict):
    url: list[str] = Field(default_factory=list)
    title: list[str] = Field(default_factory=list)
    text: list[str] = Field(default_factory=list)


class Weights(Strict):
    url: float = Field(3.0, ge=0)
    title: float = Field(2.0, ge=0)
    text: float = Field(1.0, ge=0)


class Categories(Strict):
    default: str = "other"
    min_score: float = Field(1.0, ge=0)
    weights: Weights = Field(default_factory=Weights)
    categories: dict[str, Rule]

    @model_validator(mode="after")
    def _not_empty(self) -> Categories:
        if not self.categories:
            raise ValueError("at least one category is needed")
        return self


def _pattern(words: list[str]) -> re.Pattern[str] | None:
    if not words:
        return None
    alternatives = "|".join(re.escape(w.lower()) for w in sorted(set(words), key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])")


def url_words(url: str) -> str:
    """The URL's host, path and query as space-separated words ('/docs/api_ref.html' → docs api
    ref html)."""
    parts = urlsplit(url)
    return " ".join(re.split(r"[^0-9a-z-]+", unquote(
        f"{parts.hostname or ''} {parts.path} {parts.query}").lower().replace("_", " ")))


@dataclass
class _Compiled:
    name: str
    url: re.Pattern[str] | None
    title: re.Pattern[str] | None
    text: re.Pattern[str] | None


class Classifier:
    def __init__(self, spec: Categories) -> None:
        self.spec = spec
        self._rules = [_Compiled(name, _pattern(r.url), _pattern(r.title), _pattern(r.text))
                       for name, r in spec.categories.items()]

    @classmethod
    def from_file(cls, path: Path) -> Classifier:
        data = read_yaml(path)
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: key '<root>': expected a mapping")
        return cls(validate(Categories, data, path))

    def scores(self, url: str, title: str, text: str) -> dict[str, float]:
        fields = {"url": url_words(url), "title": title.lower(), "text": text.lower()}
        w = self.spec.weights
        out = {}
        for rule in self._rules:
            score = 0.0
            for name, weight in (("url", w.url), ("title", w.title), ("text", w.text)):
                pattern = getattr(rule, name)
                if pattern is not None:
                    score += weight * len(set(pattern.findall(fields[name])))
            out[rule.name] = score
        return out

    def classify(self, url: str, title: str, text: str) -> str:
        scores = self.scores(url, title, text)
        best = max(scores, key=lambda name: scores[name])  # first listed wins a tie
        return best if scores[best] >= self.spec.min_score else self.spec.default
