from pathlib import Path

import pytest
from typer.testing import CliRunner

from spotdiff.cli import app
from spotdiff.config import ConfigError, load_config
from spotdiff.mutators.catalogue import load_catalogue

REPO = Path(__file__).resolve().parents[1]


def test_default_config_and_catalogue_load():
    cfg = load_config()
    catalogue = load_catalogue(cfg.operator_paths())
    assert {"color", "font_size", "font_weight", "opacity", "rounded", "text"} <= set(catalogue)


def test_bad_run_config_names_file_key_and_reason(tmp_path):
    bad = tmp_path / "run.yaml"
    bad.write_text("render:\n  width: wide\ngate:\n  max_outside_diff: 2\n")
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    message = str(err.value)
    assert str(bad) in message
    assert "render.width" in message and "valid integer" in message
    assert "gate.max_outside_diff" in message and "less than or equal to 1" in message


def test_unknown_key_is_refused(tmp_path):
    bad = tmp_path / "run.yaml"
    bad.write_text("sampling:\n  tries_per_pgae: 3\n")
    with pytest.raises(ConfigError, match=r"sampling\.tries_per_pgae.*Extra inputs"):
        load_config(bad)


def test_bad_operator_yaml_names_operator_and_key(tmp_path):
    ops = tmp_path / "ops.yaml"
    ops.write_text(
        "operators:\n"
        "  - name: shadow\n    family: x\n    mechanism: style\n    property: box-shadow\n"
        "    label: shadow\n    value: {kind: numeric, unit: parsecs}\n"
        "    tiers: {easy: [1, 2], medium: [0.5, 1], hard: [0.1, 0.5]}\n"
        "    template: 'The {element} {colour}'\n"
    )
    with pytest.raises(ConfigError) as err:
        load_catalogue([ops])
    message = str(err.value)
    assert str(ops) in message and "operators[shadow].value.numeric.unit" in message


def test_template_fields_are_checked(tmp_path):
    ops = tmp_path / "ops.yaml"
    ops.write_text(
        "operators:\n"
        "  - name: shadow\n    family: x\n    mechanism: style\n    property: box-shadow\n"
        "    label: shadow\n    value: {kind: color}\n"
        "    tiers: {easy: [1, 2], medium: [0.5, 1], hard: [0.1, 0.5]}\n"
        "    template: 'The {element} {colour}'\n"
    )
    with pytest.raises(ConfigError, match=r"operators\[shadow\].*unknown field.*colour"):
        load_catalogue([ops])


def test_cli_reports_bad_yaml_without_traceback(tmp_path):
    bad = tmp_path / "run.yaml"
    bad.write_text("seed: [unclosed\n")
    result = CliRunner().invoke(app, ["operators", "--config", str(bad)])
    assert result.exit_code == 2
    assert "not valid YAML" in result.output and str(bad) in result.output


def test_cli_lists_operators():
    result = CliRunner().invoke(app, ["operators"])
    assert result.exit_code == 0, result.output
    for name in ("color", "font_size", "font_weight", "opacity", "rounded", "text"):
        assert name in result.output
