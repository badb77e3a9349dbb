"""The dataset card, `README.md` in the output directory: Hugging Face YAML front matter (which
files make each split, the features, licence, task and size categories) and a body describing
the run, so that the directory uploads to the hub as it is and its viewer reads it."""

from __future__ import annotations

import json
from collections import Counter
from importlib import metadata
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import yaml

from spotdiff.config import RunConfig
from spotdiff.export.parquet import COLUMNS
from spotdiff.export.shards import shard_split
from spotdiff.records import TIERS

SIZES = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
         (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")]
COLUMN_NOTES = {
    "id": "stable pair id", "image_before": "screenshot before the change (PNG)",
    "image_after": "screenshot after the change (PNG)",
    "task_type": "`visual_diff` or `no_diff` (the same page rendered twice)",
    "difficulty": "`easy`, `medium`, `hard` or `no_diff`",
    "ground_truth_diff": "the change in one English sentence",
    "mutation_dicts_json": "one JSON object per change: type, element, selector, xpath, "
    "property, direction, old_value, new_value, magnitude, magnitude_range, visibility "
    "(measure, value), tier, bbox, ink_bbox, template, mechanism; a class swap's old_class "
    "(null when the class was added), new_class and steps; a rule edit's rule_selector",
    "mutation_types": "the operators applied", "domain": "the page's domain category",
    "pixel_diff": "changed fraction of the frame", "target_diff": "changed fraction of the "
    "target box", "outside_diff": "changed fraction outside the target box",
    "clip_distance": "1 − cosine of the image embeddings (null: not computed)",
    "ssim": "SSIM of the frame", "ssim_target": "SSIM of the target box",
    "change_regions_json": "[[x, y, w, h], …] of the connected changed regions",
    **{f"diff_bbox_{k}": "box of every changed pixel (−1: nothing changed)" for k in "xywh"},
    **{f"target_bbox_{k}": "box of the changed element (−1: none)" for k in "xywh"},
    "url": "the page", "site": "the host (and port) the page came from",
    "language": "the page's language", "operator": "operator(s), `+`-joined",
}


def _size_category(n: int) -> str:
    return next((label for bound, label in SIZES if n < bound), "n>10M")


def _yaml_feature(name: str, feature: dict[str, Any]) -> dict[str, Any]:
    """A parquet feature (the `huggingface` schema metadata) as the card's YAML writes it."""
    kind = feature["_type"]
    if kind == "Image":
        return {"name": name, "dtype": "image"}
    if kind == "List":
        return {"name": name, "list": feature["feature"]["dtype"]}
    return {"name": name, "dtype": feature["dtype"]}


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counter.most_common())


def _config_rows(node: dict[str, Any], prefix: str) -> list[list[str]]:
    rows = []
    for key, value in node.items():
        if isinstance(value, dict):
            rows += _config_rows(value, f"{prefix}{key}.")
        else:
            rows.append([f"`{prefix}{key}`", f"`{json.dumps(value)}`"])
    return rows


def front_matter(splits: dict[str, list[Path]], out: Path, cfg: RunConfig,
                 counts: dict[str, int]) -> dict[str, Any]:
    schema = pq.read_schema(next(iter(splits.values()))[0])
    features = json.loads(schema.metadata[b"huggingface"])["info"]["features"]
    return {
        "license": cfg.license,
        "language": ["en"],
        "pretty_name": f"spotdiff {out.resolve().name}",
        "task_categories": ["image-text-to-text", "visual-question-answering"],
        "tags": ["visual-diff", "change-detection", "web", "screenshots", "synthetic", "spotdiff"],
        "size_categories": [_size_category(sum(counts.values()))],
        "configs": [{"config_name": "default", "data_files": [
            {"split": split, "path": [p.relative_to(out).as_posix() for p in files]}
            for split, files in splits.items()]}],
        "dataset_info": {
            "features": [_yaml_feature(name, features[name]) for name, _ in COLUMNS],
            "splits": [{"name": split, "num_examples": counts[split]} for split in splits],
        },
    }


def body(out: Path, cfg: RunConfig, stats: dict[str, Any], rows: list[dict[str, Any]],
         counts: dict[str, int]) -> str:
    visual = [r for r in rows if r["task_type"] == "visual_diff"]
    cells = Counter((r["operator"], r["difficulty"]) for r in visual)
    operators = sorted({r["operator"] for r in visual})
    op_rows = [[f"`{op}`", *(cells[op, t] for t in TIERS), sum(cells[op, t] for t in TIERS)]
               for op in operators]
    op_rows.append(["**all**", *(sum(cells[o, t] for o in operators) for t in TIERS),
                    len(visual)])
    dumped = cfg.model_dump(mode="json")
    gate = _config_rows(dumped["gate"], "gate.")
    for section in sorted(k for k in dumped if "visib" in k):  # visibility floors, when set
        gate += _config_rows(dumped[section], f"{section}.")
    encoders = stats.get("clip_models") or {}
    encoder = (", ".join(f"`{m}` ({n} pages)" for m, n in encoders.items()) if encoders
               else f"none (`clip.backend: {cfg.clip.backend}`)")
    pages = stats.get("pages", {})
    cand = stats.get("candidates", {})
    rejected = _counts(Counter(cand.get("rejected", {})))
    name = out.resolve().name
    return f"""# spotdiff {name}

Fine-grained visual change detection on real web pages. Each row is a pair of 1280×800
screenshots of one page, before and after **one CSS property of one element** was changed
(`visual_diff`, {len(visual)} rows), or the same page rendered twice (`no_diff`,
{len(rows) - len(visual)} rows), with exact ground truth: the element, its box, the property,
the old and new values, the direction and magnitude, and an English sentence. Made with
[spotdiff](https://github.com/spotdiff/spotdiff); the columns are DiffSpot's
(Tencent/DiffSpot) plus `url`, `site`, `language` and `operator`.

Splits: {", ".join(f"`{s}` {n} rows" for s, n in counts.items())}, from
{len({r["url"] for r in rows})} pages ({pages.get("loaded", "?")} of {pages.get("total", "?")}
loaded in the run).

## Operators × difficulty tiers

A row's tier is how visible its change measured (pixels whose colour visibly moved, or px the
painted edges moved), split at each operator's `visibility.bounds`; pairs under the
operator's floor were not kept (see `config.yaml`, `operator_specs`).

{_table(["operator", *TIERS, "pairs"], op_rows)}

## Domains and languages

- Domains: {_counts(Counter(r["domain"] for r in rows))}
- Page languages: {_counts(Counter(r["language"] for r in rows))}
- Sentences (`ground_truth_diff`) are English.

## How pairs were gated

Every candidate change was screenshotted and measured; those that changed nothing visible in
the target box, or changed pixels outside it (reflow), were rejected. Of
{cand.get("tried", 0)} candidates, {cand.get("accepted", 0)} were accepted
(rejected: {rejected or "none"}). The bounds:

{_table(["setting", "value"], gate)}

Image embedding encoder (`clip_distance`): {encoder}.

## Produced by

{_table(["", ""], [
    ["spotdiff", metadata.version("spotdiff")],
    ["Playwright", metadata.version("playwright")],
    ["Chromium", stats.get("browser", "not recorded")],
    ["seed", stats.get("seed", cfg.seed)],
    ["configuration", "`config.yaml` in this directory (with every operator's spec)"],
    ["run statistics", "`stats.json` in this directory"],
])}

## Columns

{_table(["column", "what"], [[f"`{n}`", COLUMN_NOTES.get(n, "")] for n, _ in COLUMNS])}

## Load

```python
from datasets import load_dataset
ds = load_dataset("{name}")          # this directory, or its hub id after upload
row = ds["{next(iter(counts))}"][0]
row["image_before"], row["image_after"]  # PIL images
```

Publish this directory as it is (`.run/` is the generation ledger, not data):
`hf upload ORG/{name} . --repo-type dataset --exclude ".run/*"` (older `huggingface_hub`:
`huggingface-cli upload` with the same arguments). Evaluate a model on it with
`spotdiff eval predict`, `judge` and `score`.

## Licence

`{cfg.license}` for the annotations. The screenshots show third-party web pages whose content
remains under its owners' terms.
"""


def write_card(out: Path, cfg: RunConfig, stats: dict[str, Any]) -> Path:
    """Write `out/README.md` from the shards in `out/data` and the run's stats."""
    splits: dict[str, list[Path]] = {}
    for path in sorted((out / "data").glob("*.parquet")):
        splits.setdefault(shard_split(path), []).append(path)
    columns = ["task_type", "difficulty", "operator", "domain", "language", "url"]
    rows, counts = [], {}
    for split, files in splits.items():
        part = pq.read_table(files, columns=columns).to_pylist()
        counts[split] = len(part)
        rows += part
    card = out / "README.md"
    if not splits:
        return card
    matter = yaml.safe_dump(front_matter(splits, out, cfg, counts), sort_keys=False,
                            allow_unicode=True)
    card.write_text(f"---\n{matter}---\n\n{body(out, cfg, stats, rows, counts)}",
                    encoding="utf-8")
    return card
