"""Run configuration: YAML validated by pydantic, with errors naming file, key and reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from spotdiff.grounding.embedding import ClipConfig

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_CONFIG = PACKAGE_DIR.parent / "configs" / "default.yaml"


class ConfigError(ValueError):
    """A configuration file is unreadable or invalid; the message names file, key and reason."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BrowserConfig(Strict):
    executable_path: str | None = None
    extra_args: list[str] = Field(default_factory=list)


class RenderConfig(Strict):
    width: int = Field(1280, ge=200)
    height: int = Field(800, ge=200)
    allowed_hosts: list[str] | None = Field(
        default_factory=lambda: ["127.0.0.1", "localhost"],
        description="Requests to any other host are aborted; null allows every host.",
    )
    load_timeout_s: float = Field(20.0, gt=0)
    page_budget_s: float = Field(120.0, gt=0, description="Wall time allowed for one page.")
    frozen_time: str = "2025-01-01T12:00:00Z"


class CandidateConfig(Strict):
    min_width: int = Field(6, ge=1)
    min_height: int = Field(6, ge=1)
    max_area_fraction: float = Field(0.35, gt=0, le=1)
    max_elements: int = Field(600, ge=1)


class SamplingConfig(Strict):
    tries_per_page: int = Field(80, ge=1)
    max_pairs_per_page: int = Field(12, ge=1)
    mutations_per_pair: int = Field(1, ge=1, le=3)
    reload_per_try: bool = Field(False, description="Benchmark baseline only: load the page "
                                 "afresh for every try instead of once per page.")


class GateConfig(Strict):
    min_target_diff: float = Field(0.0005, ge=0, le=1)
    max_outside_diff: float = Field(0.00001, ge=0, le=1)
    margin_px: int = Field(3, ge=0)
    clip_distance: tuple[float, float] | None = Field(
        None, description="Accepted range of the embedding distance (1 - cosine); null: any.")


class ExportConfig(Strict):
    shard_rows: int = Field(500, ge=1)
    row_group_rows: int = Field(100, ge=1)


class RunConfig(Strict):
    seed: int = 0
    split: str = "test"
    operators: list[str] = Field(
        default_factory=lambda: ["operators"],
        description="Operator YAML files or directories, relative to this config file.",
    )
    browser: BrowserConfig = Field(default_factory=BrowserConfig)
    render: RenderConfig = Field(default_factory=RenderConfig)
    candidates: CandidateConfig = Field(default_factory=CandidateConfig)
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    gate: GateConfig = Field(default_factory=GateConfig)
    clip: ClipConfig = Field(default_factory=ClipConfig)
    export: ExportConfig = Field(default_factory=ExportConfig)
    config_dir: Path = Field(default=DEFAULT_CONFIG.parent, exclude=True)

    def operator_paths(self) -> list[Path]:
        """Relative paths are looked up next to the config file, then in the bundled configs/."""
        paths = []
        for entry in self.operators:
            path = self.config_dir / entry
            if not path.exists() and (DEFAULT_CONFIG.parent / entry).exists():
                path = DEFAULT_CONFIG.parent / entry
            paths.append(path.resolve())
        return paths


M = TypeVar("M", bound=BaseModel)


def format_validation_error(path: Path, err: ValidationError, prefix: str = "") -> str:
    lines = [f"{path}: invalid configuration"]
    for e in err.errors():
        key = ".".join(str(part) for part in (prefix, *e["loc"]) if part != "")
        lines.append(f"  key '{key or '<root>'}': {e['msg']}")
    return "\n".join(lines)


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from e
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from e


def validate(model: type[M], data: Any, path: Path, prefix: str = "") -> M:
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as e:
        raise ConfigError(format_validation_error(path, e, prefix)) from e


def load_config(path: Path | None = None, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Load a run config (default: the bundled configs/default.yaml) and apply CLI overrides."""
    path = (path or DEFAULT_CONFIG).resolve()
    data = read_yaml(path) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: key '<root>': expected a mapping, got {type(data).__name__}")
    data = {**data, **(overrides or {}), "config_dir": path.parent}
    return validate(RunConfig, data, path)
