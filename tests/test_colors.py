"""Colour words: survey names near the colour, none when far, a direction when both ends share
a name."""

from spotdiff.mutators.colors import NAME_RADIUS, _named_labs, color_name, color_words, delta_e


def test_names_are_near_the_colour_or_absent():
    names, _ = _named_labs()
    assert len(names) > 800 and "puke green" not in names
    for rgb in [(0x4C, 0x5A, 0x6F), (0x25, 0x2F, 0x40), (37, 99, 235), (255, 255, 255),
                (0x9A, 0x34, 0x12), (0x0F, 0x76, 0x6E)]:
        name = color_name(rgb)
        assert name not in ("dimgray", "midnightblue")  # the CSS names these used to get
        if name is not None:
            from matplotlib._color_data import XKCD_COLORS
            hexa = XKCD_COLORS["xkcd:" + name]
            named = tuple(int(hexa[i: i + 2], 16) for i in (1, 3, 5))
            assert delta_e(rgb, named) <= NAME_RADIUS


def test_same_name_both_ends_is_told_apart_by_direction():
    old, new = color_words((0x48, 0x3D, 0x8B), (0x3C, 0x32, 0x82))
    assert old.split(" (")[0] in new and "darker" in new and old != new
    _, lighter = color_words((0x22, 0x22, 0x22), (0x2A, 0x2A, 0x2A))
    assert "#2a2a2a" in lighter
    assert color_words((37, 99, 235), (220, 38, 38))[1].endswith("(#dc2626)")
