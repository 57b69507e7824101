"""A lost catalog rebuilt from nearline alone (`spokesync catalog rebuild`): retrieval sends what
it sent before, at once for studies nothing changed since they were archived, and for changed
studies after the next reconcile of the same drops."""

from __future__ import annotations

import os

import pytest

import simulator as sim
from spokesync.catalog import open_catalog
from spokesync.tasks.config import load_config
from spokesync.tasks.nearline.listing import list_tars
from spokesync.tasks.nearline.rebuild import read_tar, rebuild_catalog
from spokesync.tasks.nearline.tars import INDEX_NAME
from spokesync.tasks.nearline.volume_check import read_headers
from spokesync.tasks.reconcile.run import run_spoke
from tests.support.detection import copy_hub, nearline_files, split_delete_correct
from tests.support.nearline_safety import changed_studies, cli, retrieved, studies


@pytest.fixture
def changed(sample_drops, tmp_path):
    """North after a split, a deleted series, a corrected description and a new PR."""
    table = sim.manifest_of(sample_drops["north"])
    ops = [*split_delete_correct(table), sim.AddObject(sim.study_uids(table)[4], "PR")]
    folder = tmp_path / "changed"
    sim.apply_operations(sample_drops["north"], ops, folder)
    return folder


def test_a_lost_catalog_is_rebuilt_from_nearline_and_retrieval_sends_the_same_objects(
    archived, sample_drops, changed, tmp_path
):
    hub = copy_hub(archived, tmp_path / "hub", "north", changed)
    assert run_spoke(hub, "north")["cc_records"] > 0
    uids, touched = studies(hub), changed_studies(hub)
    before = retrieved(hub, uids, tmp_path / "before")
    files = nearline_files(hub)
    os.remove(hub.catalog)  # the catalog is lost; nearline is all there is

    rebuilt = cli("catalog", "rebuild", "--config", hub.file)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "rebuilt" in rebuilt.stdout and "next reconcile" in rebuilt.stdout
    assert nearline_files(hub) == files  # rebuilding reads nearline, never writes a TAR
    untouched = [u for u in uids if u not in touched]
    assert untouched and len(touched) >= 2
    assert retrieved(hub, untouched, tmp_path / "rebuilt") == {u: before[u] for u in untouched}

    run_spoke(hub, "north")  # the same drop again: the changes come back from the spoke
    assert retrieved(hub, uids, tmp_path / "reconciled") == before
    assert cli("verify", "--config", hub.file).returncode == 0


def test_tars_from_before_the_index_member_are_rebuilt_from_their_dicom_headers(
    archived, sample_drops, tmp_path
):
    hub = copy_hub(archived, tmp_path / "hub", "north", sample_drops["north"])
    uids = studies(hub)
    before = retrieved(hub, uids, tmp_path / "before")
    with open_catalog(hub.catalog) as con:
        held = con.execute("select count(*) from stored_objects").fetchone()[0]
    os.remove(hub.catalog)
    volume = hub.volumes[0]
    for tar in list_tars(volume):
        assert INDEX_NAME in {name for name, _, _ in read_headers(volume / tar)}
        _, indexed = read_tar("vol01", volume, tar)
        assert read_tar("vol01", volume, tar, use_index=False)[1] == indexed
    rebuild_catalog(load_config(hub.file), use_index=False)  # every TAR read as an old one
    with open_catalog(hub.catalog) as con:
        assert con.execute("select count(*) from stored_objects").fetchone()[0] == held
    assert retrieved(hub, uids, tmp_path / "headers") == before
    os.remove(hub.catalog)
    assert cli("catalog", "rebuild", "--config", hub.file).returncode == 0
    with open_catalog(hub.catalog) as con:
        assert con.execute("select count(*) from stored_objects").fetchone()[0] == held
    assert retrieved(hub, uids, tmp_path / "after") == before
