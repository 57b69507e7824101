"""DESIGN §6: changes by a non-owner are flagged (or held), stale copies are reported only."""

from __future__ import annotations

import json

import pyarrow.compute as pc
import pytest

import simulator as sim
from spokesync.catalog import open_catalog
from spokesync.catalog.changes import list_changes
from spokesync.tasks.config import (
    add_spoke,
    init_config,
    load_config,
    read_document,
    write_document,
)
from spokesync.tasks.manifest.build import write_manifest
from spokesync.tasks.reconcile.run import run_spoke
from tests.support.detection import catalog_view


def hub_with_north(tmp_path, sample_drops, ownership="warn"):
    file = init_config(tmp_path / "hub")
    document = read_document(file)
    document["policies"]["ownership"] = ownership
    write_document(file, document)
    add_spoke(file, "north", sample_drops["north"])
    run_spoke(load_config(file), "north")
    return file


def south_copy(drop, out, study, **changes):
    """A south drop holding north's study `study` as north reported it in `drop`."""
    table = sim.manifest_of(drop)
    rows = table.filter(pc.equal(table.column("study_instance_uid"), study)).to_pylist()
    write_manifest([dict(r, **changes) for r in rows], out, "south")
    (out / "objects").symlink_to(drop / "objects")
    return out


@pytest.mark.parametrize("policy, status", [("warn", "applied"), ("enforce", "pending_review")])
def test_south_correcting_a_north_study_is_flagged_or_held(tmp_path, sample_drops, policy, status):
    file = hub_with_north(tmp_path, sample_drops, policy)
    study = sim.study_uids(sim.manifest_of(sample_drops["north"]))[0]
    drop = south_copy(
        sample_drops["north"], tmp_path / "south", study, study_description="SOUTH SAYS SO"
    )
    add_spoke(file, "south", drop)
    result = run_spoke(load_config(file), "south")
    with open_catalog(load_config(file).catalog) as con:
        record = [r for r in list_changes(con) if r["run_id"] == result["run_id"]]
        description = con.execute(
            "select study_description from studies where study_instance_uid = ?", [study]
        ).fetchone()[0]
    assert [(r["kind"], r["status"]) for r in record] == [("ATTRIBUTES", status)]
    assert record[0]["evidence"]["ownership"] == {
        "owners": ["north"],
        "spoke": "south",
        "policy": policy,
    }
    assert (description == "SOUTH SAYS SO") == (policy == "warn")


@pytest.mark.parametrize("convention", ["impax", "orthanc"])
def test_a_copy_of_a_study_its_owner_split_is_stale_and_never_undoes_the_split(
    tmp_path, sample_drops, convention
):
    file = hub_with_north(tmp_path, sample_drops)
    table = sim.manifest_of(sample_drops["north"])
    study = sim.study_uids(table)[0]
    south = south_copy(sample_drops["north"], tmp_path / "south", study)
    add_spoke(file, "south", south)
    assert run_spoke(load_config(file), "south")["cc_records"] == 0
    split = tmp_path / "north-split"
    sim.apply_operations(sample_drops["north"], [sim.split_half(table, study, convention)], split)
    add_spoke(file, "north", split)
    run_spoke(load_config(file), "north")
    after_split = catalog_view(load_config(file))

    again = tmp_path / "south-again"
    sim.apply_operations(south, [], again)
    add_spoke(file, "south", again)
    result = run_spoke(load_config(file), "south")
    with open_catalog(load_config(file).catalog) as con:
        stale = con.execute(
            "select spoke_id, study_instance_uid, owner_spoke, difference from stale_copies"
        ).fetchall()
    assert result["cc_records"] == 0 and catalog_view(load_config(file)) == after_split
    assert [(s[0], s[1], s[2]) for s in stale] == [("south", study, "north")]
    assert "uids" in stale[0][3]
    assert json.dumps(stale)  # plain values only


def test_a_pending_uid_fix_is_not_applied_after_another_spoke_corrects_the_study(
    tmp_path, sample_drops
):
    file = hub_with_north(tmp_path, sample_drops)
    table = sim.manifest_of(sample_drops["north"])
    study = sim.study_uids(table)[1]
    fixed = tmp_path / "north-fixed"
    sim.apply_operations(sample_drops["north"], [sim.fix_uid(table, study)], fixed)
    add_spoke(file, "north", fixed)
    assert run_spoke(load_config(file), "north")["kinds"] == {"UID_FIX": 1}
    south = south_copy(
        sample_drops["north"], tmp_path / "south", study, study_description="SOUTH'S READING"
    )
    add_spoke(file, "south", south)
    assert run_spoke(load_config(file), "south")["kinds"] == {"ATTRIBUTES": 1}
    before = catalog_view(load_config(file))

    again = tmp_path / "north-again"
    sim.apply_operations(fixed, [], again)
    add_spoke(file, "north", again)
    result = run_spoke(load_config(file), "north")
    assert result["cc_records"] == 0 and catalog_view(load_config(file)) == before
