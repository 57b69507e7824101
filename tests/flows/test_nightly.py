"""The nightly flow reconciles every spoke; one failing spoke does not stop the others."""

from __future__ import annotations

import logging
import shutil

import pytest

from spokesync.catalog import open_catalog
from spokesync.catalog.nearline import spoke_summary
from spokesync.flows.reconcile import SpokesFailed, nightly_reconcile, reconcile_spoke
from spokesync.tasks.config import add_spoke


def test_nightly_archives_the_good_spoke_and_fails_the_run_for_the_broken_one(hub, tmp_path):
    broken = tmp_path / "broken-south"
    shutil.copytree(hub.spokes["south"].drop, broken)
    (broken / "manifest.json").unlink()
    add_spoke(hub.file, "south", broken)

    state = nightly_reconcile(config_file=str(hub.file), return_state=True)

    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, SpokesFailed)
    assert error.results["south"]["status"] == "failed"
    assert "manifest.json" in error.results["south"]["error"]
    north = error.results["north"]
    assert north["status"] == "committed" and north["new_instances"] > 0
    with open_catalog(hub.catalog) as con:
        held = {r["spoke"]: r["instances"] for r in spoke_summary(con)}
    assert held == {"north": north["new_instances"]}


def test_reconcile_spoke_flow_twice_archives_nothing_the_second_time(hub):
    first = reconcile_spoke("north", config_file=str(hub.file))
    second = reconcile_spoke("north", config_file=str(hub.file))
    assert first["new_instances"] > 0 and first["cc_records"] > 0
    assert (second["new_instances"], second["tars_written"], second["cc_records"]) == (0, 0, 0)


def test_dry_run_flow_changes_nothing(hub):
    result = reconcile_spoke("south", dry_run=True, config_file=str(hub.file))
    assert result["status"] == "dry_run" and result["new_instances"] > 0
    with open_catalog(hub.catalog) as con:
        assert spoke_summary(con) == []


def test_unknown_spoke_fails_with_the_known_ones_named(hub):
    with pytest.raises(Exception, match="known: north, south"):
        reconcile_spoke("east", config_file=str(hub.file))


def test_nightly_says_per_spoke_what_it_planned_archived_and_committed(hub, caplog):
    caplog.set_level(logging.INFO)
    results = nightly_reconcile(config_file=str(hub.file))
    lines = [r.getMessage() for r in caplog.records]
    for spoke in ("north", "south"):
        r = results[spoke]
        planned = [line for line in lines if line.startswith(f"{spoke}: planned ")]
        batches = int(planned[0].split()[2])
        assert planned == [
            f"{spoke}: planned {batches} batch{'' if batches == 1 else 'es'} "
            f"({r['new_instances']} new objects, "
            f"{r['cc_records']} records)"
        ]
        assert [line for line in lines if line.startswith(f"{spoke}: batch ")] == [
            f"{spoke}: batch {n}/{batches} archived" for n in range(1, batches + 1)
        ]
        committed = (
            f"{spoke}: committed ({r['new_instances']} new objects, {r['cc_records']} records)"
        )
        assert sum(line.startswith(committed) for line in lines) == 1
        assert lines.index(planned[0]) < lines.index(f"{spoke}: batch 1/{batches} archived")
