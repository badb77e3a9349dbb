"""Utility scales discovered from a page's own stylesheets.

A utility class is a class selector whose rules set one property (its `!important`, vendor and
fallback twins, and the custom properties the rule sets for itself, do not count), or one pair
of longhands with one value (`padding-left` + `padding-right` → `padding-inline`). Classes of one
family (same name prefix, same properties) ordered by their value form a `Scale`: `fw-light` <
`fw-bold`, `text-sm` < `text-lg`, `bg-yellow-100` < … < `bg-yellow-900`. No class name is
known in advance: Tailwind, Bootstrap, Bulma and Tachyons pages all yield their own.

Parsing is pure (tinycss2) and cached per content hash, in the process and on disk (a large
framework sheet takes 0.5–1.3 s to parse and 10 ms to load back); values are resolved
through custom properties (`var()`), `calc()`/`min()`/`max()`/`clamp()` and the media queries
that hold at the render viewport.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import tinycss2
import webcolors
from tinycss2.ast import (
    AtRule,
    DimensionToken,
    FunctionBlock,
    IdentToken,
    LiteralToken,
    NumberToken,
    ParenthesesBlock,
    PercentageToken,
    QualifiedRule,
    WhitespaceToken,
)

from spotdiff.cache import cache_dir, write_atomically
from spotdiff.mutators.colors import RGB, parse_color
from spotdiff.records import SheetText

log = logging.getLogger(__name__)

ROOT_FONT_PX = 16.0  # what `rem` (and `em` when ordering a scale) is taken to be
_VENDOR = re.compile(r"^-(webkit|moz|ms|o)-")
_CLASS = re.compile(r"^\.((?:[\w-]|\\.)+)$")
_ROOT_SELECTORS = {":root", "html", ":host", "*", "::before", "::after", "*::before",
                   "*::after", "::backdrop"}
_PAIRS = {  # two longhands set to one value read as the logical shorthand they make
    frozenset({"padding-left", "padding-right"}): "padding-inline",
    frozenset({"padding-top", "padding-bottom"}): "padding-block",
    frozenset({"margin-left", "margin-right"}): "margin-inline",
    frozenset({"margin-top", "margin-bottom"}): "margin-block",
}


@dataclass(frozen=True)
class Viewport:
    width: int = 1280
    height: int = 800


@dataclass(frozen=True)
class Declaration:
    name: str
    value: str  # serialised component values, var() not yet resolved
    important: bool


@dataclass(frozen=True)
class StyleRule:
    """A rule whose selector list is made of single classes or root selectors, with the media
    conditions it is nested in."""

    classes: tuple[str, ...]  # unescaped class names; empty for a root rule
    root: bool
    declarations: tuple[Declaration, ...]
    media: tuple[str, ...]


@dataclass(frozen=True)
class Utility:
    """A utility class and the value it gives each property it sets (var() resolved)."""

    name: str
    values: tuple[tuple[str, str], ...]  # (property, value), in declaration order

    @property
    def properties(self) -> tuple[str, ...]:
        return tuple(p for p, _ in self.values)

    def value(self, prop: str) -> str:
        return dict(self.values)[prop]


@dataclass(frozen=True)
class Scale:
    """Utility classes of one family ordered by the value of their first property."""

    family: str
    properties: tuple[str, ...]
    members: tuple[Utility, ...]

    def index(self, name: str) -> int:
        return [u.name for u in self.members].index(name)


# ---------------------------------------------------------------------------------- parsing

def _unescape(name: str) -> str:
    return re.sub(r"\\(.)", r"\1", name)


def _selectors(prelude: list) -> list[str]:
    return [s.strip() for s in tinycss2.serialize(prelude).split(",")]


def _declarations(content: list | None) -> tuple[Declaration, ...]:
    out = []
    for d in tinycss2.parse_declaration_list(content or [], skip_whitespace=True,
                                             skip_comments=True):
        if d.type == "declaration":
            name = d.name if d.name.startswith("--") else d.lower_name
            out.append(Declaration(name, tinycss2.serialize(d.value).strip(), d.important))
    return tuple(out)


def _walk(nodes: Iterable, media: tuple[str, ...], out: list[StyleRule]) -> None:
    for node in nodes:
        if isinstance(node, QualifiedRule):
            selectors = _selectors(node.prelude)
            classes = [m.group(1) for m in map(_CLASS.match, selectors) if m]
            roots = [s for s in selectors if s in _ROOT_SELECTORS or s.startswith(":root")]
            if len(classes) == len(selectors) or roots:
                out.append(StyleRule(tuple(_unescape(c) for c in classes), bool(roots),
                                     _declarations(node.content), media))
        elif isinstance(node, AtRule) and node.content is not None:
            keyword = node.lower_at_keyword
            condition = tinycss2.serialize(node.prelude).strip()
            inner = tinycss2.parse_rule_list(node.content, skip_whitespace=True,
                                             skip_comments=True)
            if keyword == "media":
                _walk(inner, (*media, condition), out)
            elif keyword in ("layer", "supports"):
                _walk(inner, media, out)


# a cached parse is used only by the code that made it: any edit of this module (the rules'
# records or how they are read) gives new cache keys
_PARSER = hashlib.sha1(Path(__file__).read_bytes()).hexdigest()[:12]
DISK_CACHE_MIN_CHARS = 16_000  # smaller sheets parse in under ~35 ms: not worth a file
DISK_CACHE_SHEETS = 2_000  # the most recently used are kept (a framework's parse: ~0.2-0.3 MB)


@lru_cache(maxsize=256)
def _parse_cached(digest: str, text: str) -> tuple[StyleRule, ...]:
    on_disk = len(text) >= DISK_CACHE_MIN_CHARS
    path = cache_dir("stylesheets") / f"{digest}-{_PARSER}.pickle"
    if on_disk:
        try:
            rules = pickle.loads(path.read_bytes())
            path.touch()  # used: kept when the cache is pruned
            return rules
        except (OSError, EOFError, pickle.UnpicklingError):
            pass
    out: list[StyleRule] = []
    _walk(tinycss2.parse_stylesheet(text, skip_whitespace=True, skip_comments=True), (), out)
    rules = tuple(out)
    if on_disk:
        try:
            write_atomically(path, lambda partial: Path(partial).write_bytes(pickle.dumps(rules)))
            _prune(path.parent)
        except OSError as e:  # a read-only or full disk: parse again next time
            log.warning("could not cache the parse of a stylesheet in %s: %s", path.parent, e)
    return rules


def _prune(directory: Path) -> None:
    """Drop the least recently used parses beyond DISK_CACHE_SHEETS (run after each write,
    which happens once a new sheet)."""
    files = list(directory.glob("*.pickle"))
    if len(files) <= DISK_CACHE_SHEETS:
        return
    files.sort(key=_mtime)
    for stale in files[:len(files) - DISK_CACHE_SHEETS]:
        stale.unlink(missing_ok=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # another worker pruned it first
        return 0.0


def parse_sheet(sheet: SheetText) -> tuple[StyleRule, ...]:
    """The class and root rules of one stylesheet; cached per content hash."""
    digest = hashlib.sha1(sheet.text.encode("utf-8", "surrogatepass")).hexdigest()
    rules = _parse_cached(digest, sheet.text)
    if sheet.media and sheet.media != "all":
        return tuple(StyleRule(r.classes, r.root, r.declarations, (sheet.media, *r.media))
                     for r in rules)
    return rules


# ---------------------------------------------------------------------------- media queries

_FEATURE = re.compile(r"^\(\s*([a-z-]+)\s*(?::\s*(.+?))?\s*\)$")
_RANGE = re.compile(r"^\(\s*(width|height)\s*(>=|<=|>|<)\s*(.+?)\s*\)$")
_HOLDS = {("prefers-reduced-motion", "reduce"), ("prefers-color-scheme", "light"),
          ("orientation", "landscape"), ("hover", "hover"), ("pointer", "fine"),
          ("any-hover", "hover"), ("any-pointer", "fine"), ("prefers-contrast", "no-preference"),
          ("scripting", "enabled"), ("color", None)}


def _feature_holds(part: str, viewport: Viewport) -> bool:
    m = _RANGE.match(part)
    if m:
        size = viewport.width if m.group(1) == "width" else viewport.height
        limit = length_px(m.group(3))
        if limit is None:
            return False
        return {">=": size >= limit, "<=": size <= limit, ">": size > limit,
                "<": size < limit}[m.group(2)]
    m = _FEATURE.match(part)
    if not m:
        return False
    name, value = m.group(1), m.group(2)
    for prefix, compare in (("min-", lambda a, b: a >= b), ("max-", lambda a, b: a <= b)):
        if name in (prefix + "width", prefix + "height"):
            size = viewport.width if name.endswith("width") else viewport.height
            limit = length_px(value or "")
            return limit is not None and compare(size, limit)
    return (name, value) in _HOLDS


@lru_cache(maxsize=4096)
def media_holds(condition: str, viewport: Viewport) -> bool:
    """Whether a media query list holds in a screen of `viewport` (unknown features do not)."""
    for query in condition.lower().split(","):
        words = re.findall(r"\([^()]*\)|[a-z-]+", query)
        negate = bool(words) and words[0] == "not"
        words = [w for w in words if w not in ("not", "only", "and")]
        holds = all(
            _feature_holds(w, viewport) if w.startswith("(") else w in ("all", "screen")
            for w in words)
        if holds != negate:
            return True
    return False


# ------------------------------------------------------------------------------------ values

def _substitute(value: str, local: dict[str, str], env: dict[str, str],
                depth: int = 0) -> str | None:
    """`value` with every var() replaced, or None when one does not resolve."""
    if "var(" not in value:
        return value
    if depth > 8:
        return None
    out = []
    for token in tinycss2.parse_component_value_list(value):
        if isinstance(token, FunctionBlock) and token.lower_name == "var":
            args = tinycss2.serialize(token.arguments)
            name, _, fallback = args.partition(",")
            resolved = local.get(name.strip(), env.get(name.strip()))
            if resolved is None:
                resolved = fallback.strip() if fallback else None
            if resolved is None:
                return None
            resolved = _substitute(resolved, local, env, depth + 1)
            if resolved is None:
                return None
            out.append(resolved)
        elif isinstance(token, FunctionBlock):
            inner = _substitute(tinycss2.serialize(token.arguments), local, env, depth + 1)
            if inner is None:
                return None
            out.append(f"{token.name}({inner})")
        else:
            out.append(tinycss2.serialize([token]))
    return "".join(out).strip()


def _tokens(nodes: list) -> list:
    return [t for t in nodes if not isinstance(t, WhitespaceToken)
            and getattr(t, "type", "") != "comment"]


def _evaluate(nodes: list, em: float, viewport: Viewport) -> float | None:
    """px of a sum/product of lengths and numbers (`calc()` arithmetic, no unit checking)."""
    tokens = _tokens(nodes)
    if not tokens:
        return None
    terms: list[float] = []
    ops: list[str] = []
    for token in tokens:
        if isinstance(token, LiteralToken) and token.value in "+-*/" and terms:
            ops.append(token.value)
            continue
        number = _atom(token, em, viewport)
        if number is None:
            return None
        terms.append(number)
    if len(terms) != len(ops) + 1:
        return None
    # * and / first, then + and -
    values, pending = [terms[0]], []
    for op, term in zip(ops, terms[1:], strict=True):
        if op == "*":
            values[-1] *= term
        elif op == "/":
            if term == 0:
                return None
            values[-1] /= term
        else:
            values.append(term)
            pending.append(op)
    total = values[0]
    for op, term in zip(pending, values[1:], strict=True):
        total = total + term if op == "+" else total - term
    return total


def _atom(token: object, em: float, viewport: Viewport) -> float | None:
    if isinstance(token, NumberToken):
        return float(token.value)
    if isinstance(token, DimensionToken):
        unit = token.lower_unit
        per = {"px": 1.0, "rem": ROOT_FONT_PX, "em": em, "vw": viewport.width / 100,
               "vh": viewport.height / 100, "vmin": min(viewport.width, viewport.height) / 100,
               "vmax": max(viewport.width, viewport.height) / 100, "pt": 4 / 3,
               "ch": em / 2, "ex": em / 2}.get(unit)
        return None if per is None else float(token.value) * per
    if isinstance(token, ParenthesesBlock):
        return _evaluate(token.content, em, viewport)
    if isinstance(token, FunctionBlock):
        name = token.lower_name
        if name == "calc":
            return _evaluate(token.arguments, em, viewport)
        if name in ("min", "max", "clamp"):
            parts, current = [], []
            for t in token.arguments:
                if isinstance(t, LiteralToken) and t.value == ",":
                    parts.append(current)
                    current = []
                else:
                    current.append(t)
            parts.append(current)
            numbers = [_evaluate(p, em, viewport) for p in parts]
            if None in numbers:
                return None
            if name == "min":
                return min(numbers)  # type: ignore[type-var]
            if name == "max":
                return max(numbers)  # type: ignore[type-var]
            if len(numbers) == 3:
                lo, mid, hi = numbers
                return max(lo, min(mid, hi))  # type: ignore[type-var]
    return None


@lru_cache(maxsize=16384)
def length_px(value: str, em: float = ROOT_FONT_PX,
              viewport: Viewport = Viewport()) -> float | None:  # noqa: B008 - frozen default
    """px of one length or number written in CSS (`1.5rem`, `calc(1.275rem + .3vw)`, `2px`,
    `1.25`); None for anything else (percentages, keywords, lists)."""
    nodes = _tokens(tinycss2.parse_component_value_list(value))
    if len(nodes) != 1 or isinstance(nodes[0], PercentageToken):
        return None
    return _atom(nodes[0], em, viewport)


def shorthand_length(value: str, em: float = ROOT_FONT_PX,
                     viewport: Viewport = Viewport()) -> float | None:  # noqa: B008
    """px of the one length in a shorthand such as `border: 1px solid #dee2e6`; None when it
    has none or several (a shadow's offsets and blur)."""
    lengths = [_atom(t, em, viewport) for t in _tokens(tinycss2.parse_component_value_list(value))
               if isinstance(t, DimensionToken | NumberToken | FunctionBlock)
               and not (isinstance(t, FunctionBlock) and t.lower_name not in ("calc", "min",
                                                                               "max", "clamp"))]
    return lengths[0] if len(lengths) == 1 else None


def authored_color(value: str) -> tuple[RGB, float] | None:
    """((r, g, b), alpha) of a colour as written in a stylesheet: hex, rgb()/rgba(), a name."""
    text = value.strip().lower()
    parsed = parse_color(text)
    if parsed is not None:
        return parsed
    if re.fullmatch(r"#[0-9a-f]{3,4}|#[0-9a-f]{6}|#[0-9a-f]{8}", text):
        digits = text[1:]
        if len(digits) in (3, 4):
            digits = "".join(c * 2 for c in digits)
        alpha = int(digits[6:8], 16) / 255 if len(digits) == 8 else 1.0
        return tuple(int(digits[i:i + 2], 16) for i in (0, 2, 4)), alpha  # type: ignore[return-value]
    try:
        return tuple(webcolors.name_to_rgb(text)), 1.0  # type: ignore[return-value]
    except ValueError:
        return None


@lru_cache(maxsize=16384)
def _order_key(prop: str, value: str) -> tuple[int, float, str]:
    """Sort key of a value within a family: lengths and numbers by size, colours from light to
    dark, shadows by their summed lengths, keywords by name."""
    px = length_px(value)
    if px is not None:
        if prop == "line-height" and _tokens(tinycss2.parse_component_value_list(value))[0].type \
                == "number":
            px *= ROOT_FONT_PX  # a unitless line height is a multiple of the font size
        return 0, px, value
    color = authored_color(value)
    if color is not None:
        r, g, b = color[0]
        return 1, -(0.2126 * r + 0.7152 * g + 0.0722 * b) * color[1], value
    nodes = _tokens(tinycss2.parse_component_value_list(value))
    if nodes and all(isinstance(t, IdentToken) for t in nodes):
        return (0, 0.0, value) if value == "none" else (3, 0.0, value)
    lengths = [_atom(t, ROOT_FONT_PX, Viewport()) for t in nodes
               if isinstance(t, DimensionToken | NumberToken)]
    if lengths and None not in lengths:
        return 2, sum(abs(v) for v in lengths), value  # type: ignore[misc]
    return 4, 0.0, value


# ------------------------------------------------------------------------------- discovery

def _winning(declarations: Iterable[Declaration]) -> dict[str, Declaration]:
    """Per property, the declaration that wins among rules of equal specificity."""
    won: dict[str, Declaration] = {}
    for d in declarations:
        if d.name in won and won[d.name].important and not d.important:
            continue
        won.pop(d.name, None)  # re-insert, so order is that of the winning declaration
        won[d.name] = d
    return won


def _utility(name: str, declarations: Sequence[Declaration],
             env: dict[str, str]) -> Utility | None:
    won = _winning(declarations)
    local = {k: d.value for k, d in won.items() if k.startswith("--")}
    props = {k: d for k, d in won.items() if not k.startswith("--")}
    for prop in [p for p in props if _VENDOR.match(p)]:
        if _VENDOR.sub("", prop) in props or len(props) > 1:
            del props[prop]  # a vendor twin of the property, or of a sibling
    if not props:
        return None
    resolved = {}
    for prop, d in props.items():
        value = _substitute(d.value, local, env)
        if value is None or not value:
            return None
        resolved[prop] = value
    if len(resolved) == 2 and frozenset(resolved) in _PAIRS and len(set(resolved.values())) == 1:
        resolved = {_PAIRS[frozenset(resolved)]: next(iter(resolved.values()))}
    return Utility(name, tuple(resolved.items()))


def family_of(name: str) -> str:
    """The class name without its last `-` segment: `text-sm` → `text`, `bg-red-500` →
    `bg-red`, `md:px-4` → `md:px`; a name with no `-` is its own family prefix ""."""
    head, sep, _ = name.rpartition("-")
    return head if sep and head not in ("", "-") else ""


class Scales:
    """Every scale of a page, and which scales each class sits on."""

    def __init__(self, scales: Iterable[Scale] = ()) -> None:
        self.scales = tuple(scales)
        self._by_class: dict[str, list[Scale]] = defaultdict(list)
        self._by_property: dict[str, list[Scale]] = defaultdict(list)
        for scale in self.scales:
            for member in scale.members:
                self._by_class[member.name].append(scale)
            for prop in scale.properties:
                self._by_property[prop].append(scale)

    def of(self, name: str) -> list[Scale]:
        return self._by_class.get(name, [])

    def setting(self, prop: str) -> list[Scale]:
        """The scales whose classes set `prop`."""
        return self._by_property.get(prop, [])


def discover(sheets: Sequence[SheetText], viewport: Viewport = Viewport(),  # noqa: B008
             max_properties: int = 2) -> Scales:
    """The utility scales of a page's stylesheets (in document order) at `viewport`.

    A class qualifies when the rules that name it alone set at most `max_properties` properties
    (one property, or one with a companion such as Tailwind's font size with its line height)."""
    return _discover(tuple(sheets), viewport, max_properties)


@lru_cache(maxsize=32)
def _discover(sheets: tuple[SheetText, ...], viewport: Viewport, max_properties: int) -> Scales:
    rules = [r for s in sheets for r in parse_sheet(s)
             if all(media_holds(m, viewport) for m in r.media)]
    env: dict[str, str] = {}
    for rule in rules:
        if rule.root:
            env.update({d.name: d.value for d in rule.declarations if d.name.startswith("--")})
    by_class: dict[str, list[Declaration]] = defaultdict(list)
    for rule in rules:
        for name in rule.classes:
            by_class[name].extend(rule.declarations)
    families: dict[tuple[str, tuple[str, ...]], list[Utility]] = defaultdict(list)
    for name, declarations in by_class.items():
        utility = _utility(name, declarations, env)
        if utility is not None and len(utility.values) <= max_properties:
            families[(family_of(name), utility.properties)].append(utility)
    for (family, props), members in list(families.items()):
        if family:
            continue
        for member in list(members):  # `rounded` heads the family of `rounded-1`, `rounded-2`…
            if (member.name, props) in families:
                members.remove(member)
                families[(member.name, props)].append(member)
    scales = []
    for (family, props), members in sorted(families.items()):
        distinct = {m.values[0][1] for m in members}
        if len(members) < 2 or len(distinct) < 2:
            continue
        members.sort(key=lambda u: (_order_key(*u.values[0]), u.name))
        scales.append(Scale(family, props, tuple(members)))
    return Scales(tuple(scales))
