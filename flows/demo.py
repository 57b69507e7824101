"""`spokesync demo`: sample spokes from real DICOM objects, the nightly flow, a summary."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from catalog import open_catalog
from catalog.storage import spoke_summary
from flows import config as cfg
from flows import views


def prepare_spokes(console: Console, data_dir: Path) -> Path:
    """Build each sample spoke's objects and drop if absent, and register it; return the config."""
    from tasks.manifest_build import build_drop
    from tasks.samples import SAMPLE_SPOKES, write_sample_spoke

    file = cfg.init_config(data_dir)
    for spoke in SAMPLE_SPOKES:
        source, drop = data_dir / "sources" / spoke, data_dir / "drops" / spoke
        if not source.exists():
            count = write_sample_spoke(spoke, source)
            console.print(f"{spoke}: wrote {count} sample DICOM objects to {source}")
        if not (drop / "manifest.json").exists():
            result = build_drop(source, spoke, drop)
            console.print(f"{spoke}: built drop {drop} ({result.rows_written} instances)")
        cfg.add_spoke(file, spoke, drop)
    return file


def run_demo(console: Console, data_dir: Path) -> bool:
    """The whole demo; False if a spoke failed."""
    data_dir = Path(data_dir).absolute()
    file = prepare_spokes(console, data_dir)
    ok = views.run_nightly(console, file, wait=True)
    config = cfg.load_config(file)
    with open_catalog(config.catalog, wait=True) as con:
        rows = spoke_summary(con)
    views.print_catalog(console, rows, config)
    return ok
