"""`spokesync demo`: sample spokes from real DICOM objects, two nights of the nightly flow.

Night 1 archives both spokes. Night 2 replays one change of every kind (split, merge, segment,
corrections, deletions, a UID fix, new objects, an ambiguous pairing) made by the simulator.
Run again, the demo finds nothing new and says so.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from spokesync.catalog import open_catalog
from spokesync.catalog.changes import list_changes
from spokesync.catalog.nearline import spoke_summary
from spokesync.catalog.vocabulary import Kind
from spokesync.flows import console as views
from spokesync.flows.console_records import print_changes
from spokesync.flows.demo_changes import first_act_drop, north_copies, second_act_drop
from spokesync.tasks import config as cfg

DONE = "demo-night2.done"
DEMO_DELETE_FRACTION = 0.5


def prepare_spokes(console: Console, data_dir: Path) -> Path:
    """Build each sample spoke's objects and drop if absent, and register it; return the config."""
    from simulator.samples import SAMPLE_SPOKES, write_sample_spoke
    from spokesync.tasks.manifest.build import build_drop

    file = cfg.init_config(data_dir)
    document = cfg.read_document(file)
    # night 2 deletes a series and a whole study of a small spoke: a fifth of what is in scope
    document["policies"]["max_delete_fraction"] = DEMO_DELETE_FRACTION
    cfg.write_document(file, document)
    for spoke in SAMPLE_SPOKES:
        source, drop = data_dir / "sources" / spoke, data_dir / "drops" / spoke
        if not source.exists():
            count = write_sample_spoke(spoke, source)
            console.print(f"{spoke}: wrote {count} sample DICOM objects to {source}")
        if not (drop / "manifest.json").exists():
            result = build_drop(source, spoke, drop)
            console.print(f"{spoke}: built drop {drop} ({result.rows_written} instances)")
        cfg.add_spoke(
            file, spoke, first_act_drop(spoke, drop, data_dir, data_dir / "drops" / "north")
        )
    return file


def second_night(console: Console, data_dir: Path, file: Path) -> None:
    """Point each spoke at its changed drop (made once by the simulator)."""
    config = cfg.load_config(file)
    copies = north_copies(data_dir / "drops" / "north")
    for spoke, source in sorted(config.spokes.items()):
        if source.source != "drop":
            console.print(f"{spoke}: pulled from {source.url}; change its studies there and run "
                          "the demo again to see the hub record the changes")  # fmt: skip
            continue
        drop, expected = second_act_drop(spoke, source.drop, data_dir, copies)
        console.print(
            f"{spoke}: the simulator changed the spoke ({expected} change(s)); new drop {drop}"
        )
        cfg.add_spoke(file, spoke, drop)


def run_demo(console: Console, data_dir: Path, pacs_url: str | None = None) -> bool:
    """The whole demo; False if a spoke failed. `pacs_url` adds spoke east from a DICOMweb PACS."""
    from spokesync.flows.demo_orthanc import attach_pacs

    data_dir = Path(data_dir).absolute()
    if (data_dir / DONE).exists():
        console.rule("the demo ran before: one more nightly run over the same drops")
        file = data_dir / cfg.CONFIG_NAME
        if pacs_url:
            attach_pacs(console, data_dir, file, pacs_url)
        ok = views.run_nightly(console, file, wait=True)
    else:
        file = prepare_spokes(console, data_dir)
        if pacs_url:
            attach_pacs(console, data_dir, file, pacs_url)
        console.rule("night 1: first archive of the sample spokes")
        ok = views.run_nightly(console, file, wait=True)
        console.rule("night 2: the spokes changed their studies")
        second_night(console, data_dir, file)
        ok = views.run_nightly(console, file, wait=True) and ok
        (data_dir / DONE).write_text("night 2 applied\n")
    config = cfg.load_config(file)
    with open_catalog(config.catalog, wait=True) as con:
        rows, changes = spoke_summary(con), list_changes(con)
    last_run = changes[-1]["run_id"] if changes else None
    shown = [c for c in changes if c["kind"] != Kind.NEW_OBJECTS or c["run_id"] == last_run]
    print_changes(console, shown)
    views.print_catalog(console, rows, config)
    return ok
