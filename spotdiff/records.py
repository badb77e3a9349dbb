"""The records that flow through the pipeline: a Page is rendered, its Elements become candidate
Mutations, a tried mutation becomes a Pair, and export turns a pair into a row."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Box = tuple[int, int, int, int]  # x, y, width, height in CSS pixels of the viewport


@dataclass(frozen=True)
class Page:
    """A page to render: live from `url`, or replayed offline from its `archive` (HAR)."""

    url: str
    domain: str | None = None  # its category; None: classified once loaded
    language: str | None = None
    archive: Path | None = None
    key: str | None = None  # stable identity when the URL is not (e.g. a server on a random port)

    @property
    def identity(self) -> str:
        return self.key or self.url


@dataclass(frozen=True)
class Element:
    """One visible element of a loaded page, as enumerated in the browser."""

    index: int
    selector: str
    xpath: str
    tag: str
    kind: str  # human word: button, link, heading, paragraph, image...
    text: str
    landmark: str  # header, navigation bar, footer, sidebar, main content, form or ""
    box: Box
    flags: frozenset[str]  # text, paint, image, leaf, control...
    styles: dict[str, str]
    classes: tuple[str, ...] = ()
    src: str = ""  # an image's URL
    near: str = ""  # the short visible text closest to an element without text
    section: str = ""  # heading of the nearest enclosing block that has one
    description: str = ""  # how ground truth names it, unique among the page's candidates
    ink: Box | None = None  # what it paints: text line boxes ∪ images ∪ its box if painted


@dataclass(frozen=True)
class SheetText:
    """One stylesheet a page applied: its URL ("" for a `<style>` block) and its text."""

    url: str
    text: str
    media: str = ""  # the sheet's own media list (`<link media>`), "" for all


@dataclass(frozen=True)
class RuleTarget:
    """A stylesheet rule whose selector matches one element alone, and what it declares."""

    selector: str  # the element's unique selector, as Element.selector
    rule_selector: str  # the rule's own selector
    rule: int  # the rule's handle in the loaded page
    properties: tuple[str, ...]


@dataclass(frozen=True)
class Mutation:
    """A candidate change: which mechanism, on which element, from what to what."""

    operator: str
    mechanism: str
    element: Element
    property: str
    old_value: str
    new_value: str
    direction: str
    magnitude: float
    tier: str
    css_value: str = ""  # what is written to the page, when not `new_value` itself
    magnitude_range: tuple[float, float] | None = None  # the range the magnitude was drawn from
    visibility: tuple[str, float] | None = None  # (measure, value) once measured
    old_class: str = ""  # a class swap: the utility class replaced,
    new_class: str = ""  # the class of its scale put in its place,
    steps: int = 0  # and how many classes apart they are on the scale
    rule_selector: str = ""  # a rule edit: the selector of the rule changed,
    rule: int = -1  # and its handle in the loaded page


@dataclass
class Shot:
    """A screenshot: the PNG as Chromium encoded it and its decoded RGB pixels."""

    png: bytes
    pixels: Any  # numpy uint8 array, height × width × 3


@dataclass
class Pair:
    page: Page
    before: Shot
    after: Shot
    mutations: list[Mutation]
    target_box: Box | None
    metrics: dict[str, float]
    language: str
    sentence: str
    descriptions: list[str] = field(default_factory=list)  # one per mutation
    boxes: list[Box] = field(default_factory=list)  # one per mutation: before ∪ after region
    regions: list[Box] = field(default_factory=list)  # connected regions of changed pixels
    task_type: str = "visual_diff"
