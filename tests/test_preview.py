"""An opacity change previewed on the first frame (grounding/preview.blend) draws what Chromium
draws, so the gate's visibility measure of the preview foresees the measure of the real try."""

import numpy as np
import pytest

from spotdiff.config import BrowserConfig, CandidateConfig, GateConfig, RenderConfig
from spotdiff.grounding import preview
from spotdiff.grounding.pixel_diff import diff_mask
from spotdiff.grounding.visibility import measure
from spotdiff.records import Page
from spotdiff.renderer.session import Renderer
from tests.conftest import inline_style, run


def drawn(test_site: str, selector: str, opacity: str):  # noqa: ANN201
    """The first frame, the element's box, and the frame with the element at `opacity`."""
    async def body():
        async with Renderer(BrowserConfig(), RenderConfig()) as renderer:
            loaded = await renderer.open(Page(url=test_site + "opacity.html"))
            try:
                elements = await loaded.elements(CandidateConfig(), ["opacity"])
                box = next(e.box for e in elements if e.selector.endswith(selector.lstrip("#"))
                           or e.selector == selector)
                before = await loaded.stable_screenshot()
                await loaded.apply(inline_style(selector, "opacity", opacity))
                after = await loaded.screenshot()
                await loaded.revert()
                return before.pixels, box, after.pixels
            finally:
                await loaded.close()

    return run(body())


def visible(before: np.ndarray, after: np.ndarray, box) -> float:  # noqa: ANN001
    return measure(before, after, diff_mask(before, after), box, GateConfig().visible_delta_e,
                   ("visible_px",)).visible_px


OPACITY_FLOOR = 400  # opacity's visibility floor, visible px


@pytest.mark.parametrize(("selector", "opacity", "keeps"), [
    ("#on-plain", "0.8", True), ("#on-plain", "0.4", True),
    ("#faint-label", "0.85", False),  # grey small text, 15% lighter: under the floor
])
def test_the_blend_draws_what_chromium_draws(test_site, selector, opacity, keeps):
    before, box, after = drawn(test_site, selector, opacity)
    previewed = preview.blend(before, box, 1.0, float(opacity))
    assert previewed is not None
    assert np.abs(previewed.astype(int) - after.astype(int)).max() <= 2
    real, foreseen = visible(before, after, box), visible(before, previewed, box)
    assert abs(foreseen - real) <= 0.05 * real + 20
    assert (real >= OPACITY_FLOOR) == (foreseen >= OPACITY_FLOOR) == keeps


def test_no_blend_over_a_backdrop_that_is_not_one_colour(test_site):
    before, box, _ = drawn(test_site, "#on-gradient", "0.5")
    assert preview.blend(before, box, 1.0, 0.5) is None
