"""A try's layout read before it is drawn (LoadedPage.probe) foresees what the pixel gate
measures once it is drawn: content pushed outside the target, or a layout-only change that
moves nothing, or moves its text less than the edge shift the gate keeps."""

import pytest

from spotdiff.config import BrowserConfig, CandidateConfig, GateConfig, RenderConfig
from spotdiff.grounding.gate import Measures, Placed, Probed, foreseen, verdict
from spotdiff.grounding.pixel_diff import diff_mask, pair_metrics
from spotdiff.grounding.visibility import measure
from spotdiff.records import Page, union_box
from spotdiff.renderer.session import Renderer
from tests.conftest import inline_style, run

CASES = [
    # an inline link's larger text makes its lines taller: the paragraph below moves
    ("#inline-link", "font-size", "30px", False, "contaminated"),
    # a shorter line height on an inline element leaves its line as its block sets it
    ("#inline-link", "line-height", "0.6", True, "no_effect"),
    # the short card's text grows into the free space the tall card beside it leaves
    ("#short-text", "line-height", "2.4", True, None),
    # Open Sans has no 500 face: CSS takes the 400 one, the text draws the same
    ("#after", "font-weight", "500", False, "no_effect"),
    # its 600 face draws other glyphs, within the paragraph's box
    ("#after", "font-weight", "600", False, None),
]


def probe_and_draw(test_site: str, selector: str, prop: str, value: str):  # noqa: ANN201
    """The change's probe, and the page drawn before, after the probe and with the change."""
    async def body():
        async with Renderer(BrowserConfig(), RenderConfig()) as renderer:
            loaded = await renderer.open(Page(url=test_site + "layout.html"))
            try:
                await loaded.elements(CandidateConfig(), ["font-size"])
                before = await loaded.stable_screenshot()
                mutation = inline_style(selector, prop, value)
                probe = await loaded.probe(mutation)
                again = await loaded.screenshot()  # the probe leaves the page as it was
                applied = await loaded.apply(mutation)
                after = await loaded.screenshot()
                await loaded.revert()
                return probe, before, again, applied, after
            finally:
                await loaded.close()

    probe, before, again, applied, after = run(body())
    assert (again.pixels == before.pixels).all()
    return probe, before, applied, after


@pytest.mark.parametrize(("selector", "prop", "value", "layout_only", "expected"), CASES)
def test_the_probe_foresees_what_the_gate_measures(test_site, selector, prop, value,
                                                   layout_only, expected):
    probe, before, applied, after = probe_and_draw(test_site, selector, prop, value)
    found = foreseen([Probed(probe, layout_only, painted=False)])
    assert found == expected
    box = union_box([applied.before, applied.after])
    measured = verdict(Measures(placed=(Placed("style"),), boxes=(box,), **pair_metrics(
        diff_mask(before.pixels, after.pixels), [box], GateConfig().margin_px)), GateConfig())
    assert measured == expected  # drawn, the gate finds what the layout foresaw


EDGE_FLOOR = 3.0  # line_height's floor, in px of edge shift


@pytest.mark.parametrize(("value", "expected"), [
    ("1.7", "invisible"),  # a line box 3.2 px taller: its text moves down 1 px (whole pixels)
    ("2.4", None),  # 14.4 px taller: 7 px
])
def test_a_layout_only_change_moving_its_text_under_the_floor_is_foreseen_invisible(
        test_site, value, expected):
    probe, before, applied, after = probe_and_draw(test_site, "#short-text", "line-height",
                                                   value)
    assert foreseen([Probed(probe, True, painted=False, edge_floor=EDGE_FLOOR)]) == expected
    box = union_box([applied.before, applied.after])
    drawn = measure(before.pixels, after.pixels, diff_mask(before.pixels, after.pixels), box,
                    GateConfig().visible_delta_e, ("edge_shift",)).edge_shift
    assert (drawn < EDGE_FLOOR) == (expected == "invisible")  # drawn, it measures so
