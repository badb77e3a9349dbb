"""`spotdiff operators`: the operators the configuration declares, as a table."""

from __future__ import annotations

from rich.table import Table

from spotdiff.config import ConfigError
from spotdiff.console import ConfigOpt, fail, out_console, run_config
from spotdiff.mutators.catalogue import load_catalogue
from spotdiff.records import TIERS


def operators_command(config: ConfigOpt = None) -> None:
    """List the operators the configuration declares."""
    cfg = run_config(config)
    try:
        catalogue = load_catalogue(cfg.operator_paths())
    except ConfigError as e:
        fail(str(e))
    table = Table("operator", "family", "mechanism", "property", "magnitude", "easy", "medium",
                  "hard")
    for name, spec in sorted(catalogue.items()):
        tiers = [f"{lo:g}–{hi:g}" for lo, hi in (spec.tiers[t] for t in TIERS)]
        if spec.tier_areas:
            tiers = [f"{text}, area {lo:g}–{hi:g}%"
                     for text, (lo, hi) in zip(tiers, (spec.tier_areas[t] for t in TIERS),
                                               strict=True)]
        table.add_row(name, spec.family, spec.mechanism, spec.property, spec.magnitude_unit,
                      *tiers)
    out_console.print(table)
