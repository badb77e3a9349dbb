"""The records that flow through the pipeline: a Page is rendered, its Elements become candidate
Mutations, a tried mutation becomes a Pair, and export turns a pair into a row. Also the two
vocabularies every stage shares: box geometry and the difficulty tiers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Box = tuple[int, int, int, int]  # x, y, width, height in CSS pixels of the viewport
Tier = Literal["easy", "medium", "hard"]
TIERS: tuple[Tier, ...] = ("easy", "medium", "hard")  # easiest first


def union_box(boxes: Iterable[Box]) -> Box | None:
    """The smallest box holding all of them; None for no boxes."""
    union = None
    for box in boxes:
        if union is None:
            union = box
            continue
        x0, y0 = min(union[0], box[0]), min(union[1], box[1])
        x1 = max(union[0] + union[2], box[0] + box[2])
        y1 = max(union[1] + union[3], box[1] + box[3])
        union = (x0, y0, x1 - x0, y1 - y0)
    return union


def intersect_box(a: Box, b: Box) -> Box | None:
    """The part of `a` inside `b`; None when they do not overlap."""
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    return (x0, y0, x1 - x0, y1 - y0) if x1 > x0 and y1 > y0 else None


def grow_box(box: Box, px: int) -> Box:
    return (box[0] - px, box[1] - px, box[2] + 2 * px, box[3] + 2 * px)


def boxes_overlap(a: Box, b: Box) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def hardest(tiers: Sequence[str]) -> str:
    """A multi-mutation pair's difficulty: its hardest mutation's tier."""
    return max(tiers, key=TIERS.index)  # type: ignore[arg-type]


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
class LayoutProbe:
    """The layout a change gives, read before any frame is drawn: how far (px) the edges of
    the other listed elements and the text around it moved at most, and of the element's own
    box and of its lines of text (inf: there are now more or fewer of them); and whether its
    text draws other glyphs (False: a weight its font has no face for; None: its font is
    unchanged)."""

    others_shift: float
    box_shift: float
    text_shift: float
    glyphs_change: bool | None = None


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
    old_class: str | None = None  # a class swap: the utility class replaced (None: added),
    new_class: str | None = None  # the class of its scale put in its place (or added),
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
