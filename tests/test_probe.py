"""A try's layout read before it is drawn (LoadedPage.probe) foresees what the pixel gate
measures once it is drawn: content pushed outside the target, or a layout-only change that
moves nothing."""

import pytest

from spotdiff.config import BrowserConfig, CandidateConfig, GateConfig, RenderConfig
from spotdiff.grounding.gate import Measures, Placed, Probed, foreseen, verdict
from spotdiff.grounding.pixel_diff import diff_mask, pair_metrics
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
]


@pytest.mark.parametrize(("selector", "prop", "value", "layout_only", "expected"), CASES)
def test_the_probe_foresees_what_the_gate_measures(test_site, selector, prop, value,
                                                   layout_only, expected):
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
    found = foreseen([Probed(probe, layout_only, painted=False)])
    assert found == expected
    box = union_box([applied.before, applied.after])
    measured = verdict(Measures(placed=(Placed("style"),), boxes=(box,), **pair_metrics(
        diff_mask(before.pixels, after.pixels), [box], GateConfig().margin_px)), GateConfig())
    assert measured == expected  # drawn, the gate finds what the layout foresaw
