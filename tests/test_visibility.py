"""The visibility floor measured on real Chromium frames: a faint change on thin text or a
one-pixel nudge measures under its operator's floor and is rejected as `invisible`; the same
kind of change made large is kept, and tiers by measured visibility rank it easier."""

import pytest

from spotdiff.config import ConfigError
from spotdiff.grounding.gate import Measures, verdict
from spotdiff.grounding.pixel_diff import diff_mask, pair_metrics
from spotdiff.grounding.visibility import measure
from spotdiff.mutators.catalogue import load_catalogue
from spotdiff.records import Page
from spotdiff.renderer.session import Renderer
from tests.conftest import inline_style, run

CHANGES = {  # name → (selector, property, value)
    "faint_small_text": ("#small", "color", "#3d3a48"),  # ΔE2000 ≈ 6 on 11 px text
    "strong_small_text": ("#small", "color", "#d0021b"),
    "faint_banner": ("#banner", "background-color", "#4a8cf0"),
    "strong_banner": ("#banner", "background-color", "#f59e0b"),
    "nudge_card": ("#card", "translate", "1px 0px"),
    "move_card": ("#card", "translate", "14px 0px"),
}


async def measured(cfg, url):
    out = {}
    async with Renderer(cfg.browser, cfg.render) as renderer:
        loaded = await renderer.open(Page(url=url))
        before = await loaded.screenshot()
        for name, (selector, prop, value) in CHANGES.items():
            applied = await loaded.apply(inline_style(selector, prop, value))
            after = await loaded.screenshot()
            await loaded.revert()
            box = applied.before
            grown = (box[0] - 16, box[1] - 4, box[2] + 32, box[3] + 8)
            mask = diff_mask(before.pixels, after.pixels)
            out[name] = (measure(before.pixels, after.pixels, mask, grown,
                                 cfg.gate.visible_delta_e), pair_metrics(mask, [grown], 3))
        await loaded.close()
    return out


@pytest.fixture(scope="module")
def measures(cfg, test_site):
    return run(measured(cfg, test_site + "visibility.html"))


def test_faint_changes_measure_under_the_floor_and_are_invisible(measures, cfg):
    catalogue = load_catalogue(cfg.operator_paths())
    color_floor = catalogue["color"].visibility.floor
    shift_floor = catalogue["position"].visibility.floor
    for name, measure_name, floor in (("faint_small_text", "visible_px", color_floor),
                                      ("nudge_card", "edge_shift", shift_floor)):
        visibility, metrics = measures[name]
        assert metrics["target_diff"] > 0, name  # pixels did change: not a no_effect
        value = visibility.get(measure_name)
        assert value < floor, (name, visibility)
        assert verdict(Measures(**metrics, visibility=((value, floor),)), cfg.gate) == "invisible"


def test_plain_changes_clear_the_floor_and_rank_by_visibility(measures, cfg):
    catalogue = load_catalogue(cfg.operator_paths())
    for name, measure_name, op in (("strong_small_text", "visible_px", "color"),
                                   ("strong_banner", "visible_px", "background_color"),
                                   ("move_card", "edge_shift", "position")):
        visibility, metrics = measures[name]
        value = visibility.get(measure_name)
        floor = catalogue[op].visibility.floor
        assert verdict(Measures(**metrics, visibility=((value, floor),)), cfg.gate) is None
    assert measures["strong_banner"][0].visible_px > 50 * measures["faint_banner"][0].visible_px
    assert measures["strong_banner"][0].visible_px > measures["strong_small_text"][0].visible_px
    assert measures["move_card"][0].edge_shift == pytest.approx(14, abs=2)
    assert measures["nudge_card"][0].edge_shift <= 1.5
    assert measures["strong_banner"][0].edge_shift < 1  # a colour change moves no edge


def test_visibility_bounds_and_floor_are_validated_with_file_and_key(tmp_path):
    path = tmp_path / "ops.yaml"
    path.write_text("""operators:
  - name: shade
    family: color
    mechanism: style
    property: color
    label: text colour
    value: {kind: color}
    tiers: {easy: [30, 60], medium: [15, 30], hard: [5, 15]}
    visibility: {floor: 150, bounds: [120, 400]}
    template: "The {element} changed colour."
""")
    with pytest.raises(ConfigError, match=r"(?s)ops.yaml.*\[shade\].*above the floor 150"):
        load_catalogue([path])
    path.write_text(path.read_text().replace("floor: 150", "measure: loudness"))
    with pytest.raises(ConfigError, match=r"(?s)ops.yaml.*visibility.measure"):
        load_catalogue([path])
    path.write_text(path.read_text().replace("measure: loudness, ", ""))
    spec = load_catalogue([path])["shade"]
    assert (spec.visibility.measure, spec.visibility.floor) == ("visible_px", 100)  # rule default
    assert [spec.visibility_tier(v) for v in (60, 130, 500)] == ["hard", "medium", "easy"]
