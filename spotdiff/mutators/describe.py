"""English for ground truth: what an element is and where it is, and what changed about it."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from spotdiff.mutators.catalogue import OperatorSpec
from spotdiff.mutators.colors import RGB, color_name, color_words, parse_color
from spotdiff.records import Box, Element, Mutation

_MAX_QUOTE = 40
# alt texts and labels that say only what kind of thing it is
_PLACEHOLDER_LABELS = frozenset({"img", "image", "icon", "logo", "picture", "photo", "avatar",
                                 "button", "link", "box", "card", "placeholder"})


def _quote(text: str) -> str:
    """The text in quotes, shortened; nothing for text with no letter or digit ('…', '|')."""
    text = " ".join(text.split())
    if not any(c.isalnum() for c in text) or text.lower() in _PLACEHOLDER_LABELS:
        return ""
    if len(text) > _MAX_QUOTE:
        text = text[: _MAX_QUOTE - 1].rstrip() + "…"
    return f"'{text}'" if text else ""


def page_location(box: Box, width: int, height: int) -> str:
    """'top-right', 'middle' … of the viewport, from the box centre on a 3 × 3 grid."""
    cx = (box[0] + box[2] / 2) / width
    cy = (box[1] + box[3] / 2) / height
    row = "top" if cy < 1 / 3 else ("bottom" if cy > 2 / 3 else "middle")
    col = "left" if cx < 1 / 3 else ("right" if cx > 2 / 3 else "center")
    if row == "middle" and col == "center":
        return "centre"
    if col == "center":
        return row
    return col if row == "middle" else f"{row}-{col}"


def describe_element(element: Element, width: int, height: int) -> str:
    """e.g. "'Sign up' button in the header (top-right of the page)", with no leading article:
    the element's own description when the page listing gave it one."""
    return element.description or _phrase(element, width, height, section=False)


# kinds that name nothing in particular: alone (no text, label or colour) they find no element
GENERIC_KINDS = frozenset({"box", "element", "link", "button", "text", "text block", "image",
                           "icon", "list item", "section", "paragraph", "card", "badge"})
_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
             "ninth", "tenth")


def _color_word(element: Element) -> str:
    """The named background colour of a painted box, '' when unnamed or unpainted."""
    parsed = parse_color(element.styles.get("background-color", ""))
    if parsed is None or parsed[1] < 0.5 or "paint" not in element.flags:
        return ""
    return color_name(parsed[0]) or ""


def _what(element: Element) -> str:
    quoted = _quote(element.text)
    if quoted:
        return f"{quoted} {element.kind}"
    color = _color_word(element)
    what = f"{color} {element.kind}" if color else element.kind
    near = _quote(element.near)
    return f"{what} next to {near}" if near else what


def _phrase(element: Element, width: int, height: int, section: bool,
            ordinal: int | None = None) -> str:
    what = _what(element)
    if ordinal is not None:
        what = f"{_ORDINALS[ordinal] if ordinal < len(_ORDINALS) else f'{ordinal + 1}th'} {what}"
    where = ""
    if section and element.section and element.section not in (element.text, element.near):
        where = f" in the {_quote(element.section)} section"
        where += f" of the {element.landmark}" if element.landmark else ""
    elif element.landmark:
        where = f" in the {element.landmark}"
    return f"{what}{where} ({page_location(element.box, width, height)} of the page)"


def is_generic(element: Element) -> bool:
    """Named by a generic noun alone: no text, nearby label, colour or specific role."""
    return _what(element) in GENERIC_KINDS


def describe_page(elements: Sequence[Element], width: int, height: int) -> list[Element]:
    """Every listed element with a description no other candidate of the page shares: its text
    or label, role, colour, landmark and page area; then the heading of its section where that
    is not enough; then its ordinal among those still alike, in reading order."""
    described = [_phrase(e, width, height, section=False) for e in elements]
    for stage in ("section", "ordinal"):
        groups: dict[str, list[int]] = {}
        for i, text in enumerate(described):
            groups.setdefault(text, []).append(i)
        for same in (g for g in groups.values() if len(g) > 1):
            if stage == "section":
                for i in same:
                    described[i] = _phrase(elements[i], width, height, section=True)
                continue
            order = sorted(same, key=lambda i: (elements[i].box[1], elements[i].box[0], i))
            for rank, i in enumerate(order):
                described[i] = _phrase(elements[i], width, height, section=True, ordinal=rank)
    return [dataclasses.replace(e, description=d) for e, d in zip(elements, described, strict=True)]


def _display(value: str) -> str:
    if value.startswith(("http://", "https://", "data:")):
        return _quote(value.rsplit("/", 1)[-1].split("?")[0]) or "an image"
    parsed = parse_color(value) if value.startswith("rgb") else None
    return value if parsed is None else "#{:02x}{:02x}{:02x}".format(*parsed[0])


def _rgb(value: str) -> RGB | None:
    if value.startswith("#") and len(value) == 7:
        return tuple(int(value[i: i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]
    return None


def _named(value: str) -> str:
    rgb = _rgb(value)
    return (color_name(rgb) or value) if rgb else value


def _colors(old: str, new: str) -> tuple[str, str]:
    """Both ends of a colour change in words with their hex (other values as they are)."""
    old_rgb, new_rgb = _rgb(old), _rgb(new)
    if old_rgb is None or new_rgb is None:
        return _display(old), _display(new)
    return color_words(old_rgb, new_rgb)


def sentence(spec: OperatorSpec, mutation: Mutation, element_text: str) -> str:
    """Fill the operator's template; fields: element, old, new, old_name, new_name, old_color,
    new_color, phrase, property, magnitude, unit, direction, contents."""
    old_color, new_color = _colors(mutation.old_value, mutation.new_value)
    text = spec.template.format(
        element=element_text,
        old=_display(mutation.old_value),
        new=_display(mutation.new_value),
        old_name=_named(mutation.old_value),
        new_name=_named(mutation.new_value),
        old_color=old_color,
        new_color=new_color,
        phrase=spec.phrases.get(mutation.direction, mutation.direction),
        property=spec.label,
        magnitude=f"{mutation.magnitude:g}",
        unit=spec.magnitude_unit,
        direction=mutation.direction,
        contents=_contents(mutation.element),
    )
    return text[:1].upper() + text[1:]


def _contents(element: Element) -> str:
    """What goes with an element that holds others when it is hidden, moved or turned."""
    if "leaf" in element.flags:
        return ""
    if "has_image" in element.flags:
        return ", together with the image inside it"
    return ", together with everything inside it"
