"""The mechanism and flag table (renderer/mechanisms.yaml): operators are validated against it
and the page script implements exactly what it declares."""

import re
from pathlib import Path
from typing import get_args

import pytest
from typer.testing import CliRunner

from spotdiff.cli import app
from spotdiff.config import BrowserConfig, ConfigError, RenderConfig
from spotdiff.mutators.catalogue import ValueRule, load_catalogue
from spotdiff.records import Page
from spotdiff.renderer.mechanisms import TABLE, script_table
from spotdiff.renderer.session import PAGE_SCRIPT, Renderer
from tests.conftest import run

REPO = Path(__file__).resolve().parents[1]
VALUES = {"numeric": "{kind: numeric}", "color": "{kind: color}", "text": "{kind: text}",
          "keyword": "{kind: keyword, values: [left, right]}", "none": "{kind: none, label: x}"}


def _operator(tmp_path: Path, mechanism: str, value: str, extra: str = "") -> Path:
    ops = tmp_path / "ops.yaml"
    ops.write_text(
        "operators:\n"
        f"  - name: odd\n    family: x\n    mechanism: {mechanism}\n    property: color\n"
        f"    label: odd\n    value: {VALUES[value]}\n    magnitude: area\n"
        "    tiers: {easy: [1, 2], medium: [0.5, 1], hard: [0.1, 0.5]}\n"
        f"    template: 'The {{element}} changes.'\n{extra}")
    return ops


@pytest.mark.parametrize(("mechanism", "value"), [
    ("remove", "numeric"), ("text", "color"), ("style", "text"), ("attribute", "keyword")])
def test_a_mechanism_refuses_a_value_kind_it_cannot_use(tmp_path, mechanism, value):
    ops = _operator(tmp_path, mechanism, value)
    with pytest.raises(ConfigError) as err:
        load_catalogue([ops])
    message = str(err.value)
    assert str(ops) in message and "key 'operators[odd].value'" in message
    assert f"mechanism '{mechanism}' cannot use a '{value}' value" in message


def test_every_value_kind_the_table_accepts_loads(tmp_path):
    for name in TABLE.declared:
        for kind in TABLE.mechanisms[name].values:
            if kind in VALUES:
                load_catalogue([_operator(tmp_path, name, kind)])


def test_a_class_swap_rule_needs_the_mechanism_it_is_the_twin_of(tmp_path):
    ops = _operator(tmp_path, "text", "text", "    class_swap: {properties: [color]}\n")
    with pytest.raises(ConfigError, match=r"operators\[odd\]\.class_swap.*twin of a `style`"):
        load_catalogue([ops])


def test_the_command_says_it_in_one_line_per_key(tmp_path):
    ops = _operator(tmp_path, "remove", "numeric")
    run_cfg = tmp_path / "run.yaml"
    run_cfg.write_text(f"operators: [{ops}]\n")
    result = CliRunner().invoke(app, ["operators", "--config", str(run_cfg)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert (f"{ops}: invalid configuration\n  key 'operators[odd].value': Value error, "
            "mechanism 'remove' cannot use a 'numeric' value; it takes none") in result.output


def test_the_table_names_only_real_value_kinds():
    kinds = {get_args(rule.model_fields["kind"].annotation)[0]
             for rule in get_args(get_args(ValueRule)[0])}
    for name, mechanism in TABLE.mechanisms.items():
        assert set(mechanism.values) <= kinds, name


def test_the_readme_lists_every_flag():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    listing = re.search(r"Element flags for `applies_to.*?\n\n", readme, re.S).group(0)
    assert {f for f in TABLE.flags if f"`{f}`" not in listing} == set()


def test_the_page_script_refuses_a_table_it_does_not_implement(test_site):
    table = script_table()
    table["mechanisms"]["blur"] = {"region": "element"}
    table["flags"] = [f for f in table["flags"] if f != "leaf"]

    async def body():
        async with Renderer(BrowserConfig(), RenderConfig()) as renderer:
            loaded = await renderer.open(Page(url=test_site + "basic.html"))
            try:
                return await loaded.pw_page.evaluate(
                    f"t => {{ delete window.__spotdiff; try {{ ({PAGE_SCRIPT})(t); return ''; }}"
                    " catch (e) { return e.message; } }", table)
            finally:
                await loaded.close()

    message = run(body())
    assert "mechanism blur is not implemented" in message
    assert "flag leaf is not in mechanisms.yaml" in message
