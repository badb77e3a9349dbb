"""English for ground truth: what an element is and where it is, and what changed about it."""

from __future__ import annotations

from spotdiff.mutators.catalogue import OperatorSpec
from spotdiff.mutators.colors import color_name, parse_color
from spotdiff.records import Box, Element, Mutation

_MAX_QUOTE = 40


def _quote(text: str) -> str:
    text = " ".join(text.split())
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
    """e.g. "'Sign up' button in the header (top-right of the page)", with no leading article."""
    quoted = _quote(element.text)
    what = f"{quoted} {element.kind}" if quoted else element.kind
    where = f" in the {element.landmark}" if element.landmark else ""
    return f"{what}{where} ({page_location(element.box, width, height)} of the page)"


def _display(value: str) -> str:
    if value.startswith(("http://", "https://", "data:")):
        return _quote(value.rsplit("/", 1)[-1].split("?")[0]) or "an image"
    parsed = parse_color(value) if value.startswith("rgb") else None
    return value if parsed is None else "#{:02x}{:02x}{:02x}".format(*parsed[0])


def _named(value: str) -> str:
    if value.startswith("#") and len(value) == 7:
        rgb = tuple(int(value[i: i + 2], 16) for i in (1, 3, 5))
        return color_name(rgb)  # type: ignore[arg-type]
    return value


def sentence(spec: OperatorSpec, mutation: Mutation, element_text: str) -> str:
    """Fill the operator's template; fields: element, old, new, old_name, new_name, phrase,
    property, magnitude, unit, direction."""
    text = spec.template.format(
        element=element_text,
        old=_display(mutation.old_value),
        new=_display(mutation.new_value),
        old_name=_named(mutation.old_value),
        new_name=_named(mutation.new_value),
        phrase=spec.phrases.get(mutation.direction, mutation.direction),
        property=spec.label,
        magnitude=f"{mutation.magnitude:g}",
        unit=spec.magnitude_unit,
        direction=mutation.direction,
    )
    return text[:1].upper() + text[1:]
