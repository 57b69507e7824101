"""Nothing archived is ever lost (issue 16): operator mistakes tried on real hubs.

A mistyped catalog path, a catalog restored from an older backup, a volume not mounted or of
another hub: each stops the run before anything is written, with nearline byte for byte as it
was. A hub moved elsewhere, or a catalog from before volume names, still verifies and retrieves.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

import simulator as sim
from spokesync.catalog import open_catalog
from spokesync.catalog.errors import NearlineUnsafe
from spokesync.tasks.nearline.verify import verify_nearline
from spokesync.tasks.nearline.volumes import MARKER
from spokesync.tasks.reconcile.run import run_spoke
from tests.support.detection import copy_hub, nearline_files
from tests.support.nearline_safety import cli, edit_config, retrieved, studies


@pytest.fixture
def hub(archived, sample_drops, tmp_path):
    return copy_hub(archived, tmp_path / "hub", "north", sample_drops["north"])


@pytest.fixture
def added(sample_drops, tmp_path):
    """North with a presentation state added to one study: a run that writes a TAR."""
    table = sim.manifest_of(sample_drops["north"])
    folder = tmp_path / "added"
    sim.apply_operations(sample_drops["north"], [sim.AddObject(sim.study_uids(table)[1], "PR")],
                         folder)  # fmt: skip
    return folder


def test_a_mistyped_catalog_path_stops_the_night_before_anything_is_written(hub):
    before = nearline_files(hub)
    edit_config(hub.file, "catalog", "path", "catalog.duckbd")
    night = cli("nightly", "--config", hub.file)
    assert night.returncode == 1, night.stdout + night.stderr
    said = " ".join(night.stdout.split())  # the console wraps long lines
    assert "indexes nothing yet" in said and "`spokesync catalog rebuild`" in said
    assert nearline_files(hub) == before
    edit_config(hub.file, "catalog", "path", "catalog.duckdb")
    assert verify_nearline(hub)[0] == []


def test_a_catalog_restored_from_an_older_backup_is_recognised_before_a_quiet_night(
    hub, added, tmp_path
):
    backup = tmp_path / "backup.duckdb"
    shutil.copy(hub.catalog, backup)
    assert run_spoke(hub, "north", drop=added)["tars_written"] == 1
    shutil.copy(backup, hub.catalog)
    before = nearline_files(hub)
    with pytest.raises(NearlineUnsafe, match=r"older than its nearline.*catalog rebuild"):
        run_spoke(hub, "north", drop=added)
    assert nearline_files(hub) == before


def test_a_volume_not_mounted_is_never_written(hub, tmp_path):
    volume = hub.volumes[0]
    os.rename(volume, tmp_path / "elsewhere")
    volume.mkdir()  # the empty mount point
    with pytest.raises(NearlineUnsafe, match=rf"'vol01' at {volume} has no marker.*not mounted"):
        run_spoke(hub, "north")
    assert list(volume.iterdir()) == []


def test_a_volume_of_another_hub_is_never_written(hub):
    marker = hub.volumes[0] / MARKER
    body = json.loads(marker.read_text()) | {"hub_id": "hub-someone-else"}
    marker.write_text(json.dumps(body))
    before = nearline_files(hub)
    with pytest.raises(NearlineUnsafe, match="belongs to hub hub-someone-else"):
        run_spoke(hub, "north")
    assert nearline_files(hub) == before


def test_a_hub_moved_to_another_folder_verifies_and_retrieves(hub, tmp_path):
    expected = retrieved(hub, studies(hub), tmp_path / "before")
    moved = tmp_path / "moved" / "hub"
    moved.parent.mkdir()
    os.rename(hub.file.parent, moved)
    checked = cli("verify", "--config", moved / "spokesync.toml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    from spokesync.tasks.config import load_config

    config = load_config(moved / "spokesync.toml")
    assert retrieved(config, studies(config), tmp_path / "after") == expected


def test_a_catalog_that_named_volumes_by_path_is_mapped_to_names_on_its_next_run(hub, tmp_path):
    """Catalogs from before volume names hold absolute paths, of a host the hub has left."""
    old = "/srv/old-host/hub/nearline/vol01"
    with open_catalog(hub.catalog) as con:
        con.execute("update stored_objects set volume = ?", [old])
        con.execute("delete from hub; delete from volumes")
    (hub.volumes[0] / MARKER).rename(tmp_path / "marker-of-before")
    assert verify_nearline(hub)[0] == []
    assert run_spoke(hub, "north")["cc_records"] == 0
    with open_catalog(hub.catalog) as con:
        assert con.execute("select distinct volume from stored_objects").fetchall() == [("vol01",)]
    assert json.loads((hub.volumes[0] / MARKER).read_text())["volume"] == "vol01"
