"""The rule-edit twin: the declaration changed in the page's own stylesheet rule, through the
CSSOM, only where that rule's selector matches the target alone."""

from __future__ import annotations

import json

import numpy as np

from spotdiff.config import CandidateConfig
from spotdiff.export.rows import mutation_dict
from spotdiff.generator.page_job import PageJob, style_properties
from spotdiff.generator.stats import Stats
from spotdiff.mutators.catalogue import load_catalogue
from spotdiff.mutators.planner import page_context, plan
from spotdiff.records import Page
from spotdiff.renderer.session import Renderer
from tests.conftest import run


def test_rule_edits_change_the_rule_of_the_target_alone(cfg, test_site):
    async def body():
        catalogue = load_catalogue(cfg.operator_paths())
        async with Renderer(cfg.browser, cfg.render) as renderer:
            loaded = await renderer.open(Page(url=test_site + "catalogue.html"))
            elements = await loaded.elements(CandidateConfig(), style_properties(catalogue))
            props = sorted({s.property for s in catalogue.values() if s.mechanism == "style"})
            rules = await loaded.rule_targets(props)
            before = await loaded.screenshot()
            job = PageJob(renderer, catalogue, cfg)
            accepted = {}
            for name, m in plan(elements, catalogue, np.random.default_rng(0),
                                page_context(elements), (1280, 800),
                                mechanisms={"rule_edit": 1.0}, rules=rules):
                if isinstance(m, str):
                    continue
                outcome = await job.try_pair(loaded, before, [m], Stats())
                if outcome.reason is None:
                    accepted.setdefault(name, (m, outcome.pair))
            style_attr = await loaded.evaluate(
                "() => document.querySelector('#t-boxed').getAttribute('style')")
            after_all = await loaded.screenshot()
            await loaded.close()
            return rules, accepted, style_attr, before, after_all

    rules, accepted, style_attr, before, after_all = run(body())
    by_rule = {r.rule_selector: r for r in rules}
    assert ".boxed" in by_rule and ".btn" not in by_rule  # .btn styles two elements
    assert by_rule[".boxed"].selector == "#t-boxed"
    assert {"border", "border_color", "color"} <= set(accepted), sorted(accepted)
    m, pair = accepted["border"]
    assert m.mechanism == "rule_edit" and m.rule_selector == ".boxed"
    d = json.loads(json.dumps(mutation_dict(m, pair.descriptions[0], pair.boxes[0], "t")))
    assert d["mechanism"] == "rule_edit" and d["rule_selector"] == ".boxed"
    assert m.old_value in pair.sentence and m.new_value in pair.sentence
    assert style_attr is None  # the element itself was never touched
    assert np.array_equal(before.pixels, after_all.pixels)  # every rule edit was undone
