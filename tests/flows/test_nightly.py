"""The nightly flow reconciles every spoke; one failing spoke does not stop the others."""

from __future__ import annotations

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
