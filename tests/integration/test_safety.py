"""DESIGN §4 safety rules: atomic runs, no silent mass deletion, never guess."""

from __future__ import annotations

import pytest

import simulator as sim
from spokesync.catalog.errors import MassDeletionBlocked
from spokesync.tasks.config import add_spoke, load_config
from spokesync.tasks.reconcile.run import run_spoke
from tests.support.detection import (
    catalog_view,
    copy_hub,
    export,
    records_of_run,
    split_delete_correct,
)


@pytest.mark.parametrize(
    "step",
    [
        "insert_new_studies",
        "apply_moves",
        "apply_deletions",
        "insert_cc_instances",
        "insert_attribute_history",
    ],
)
def test_error_mid_run_leaves_the_catalog_exactly_as_before(archived, sample_drops, tmp_path, step):
    ops = split_delete_correct(sim.manifest_of(sample_drops["north"]))
    drop = tmp_path / "drop"
    sim.apply_operations(sample_drops["north"], ops, drop)
    config = copy_hub(archived, tmp_path / "hub", "north", drop)
    before = export(config)
    with pytest.raises(RuntimeError, match=f"injected failure after {step}"):
        run_spoke(config, "north", allow_mass_delete=True, fail_after=step)
    assert export(config) == before
    clean = run_spoke(config, "north", allow_mass_delete=True)
    assert clean["kinds"] == {"SPLIT": 1, "DELETE": 1, "ATTRIBUTES": 1}


def test_removing_a_tenth_of_the_instances_is_blocked_until_confirmed(
    archived, sample_drops, tmp_path
):
    table = sim.manifest_of(sample_drops["north"])
    doomed, total = [], len(table)
    for study in sim.study_uids(table):
        doomed += sim.instances_of(table, study)[1:]
        if len(doomed) >= total // 10:
            break
    by_study = {}
    for row in table.to_pylist():
        if row["sop_instance_uid"] in doomed:
            by_study.setdefault(row["study_instance_uid"], []).append(row["sop_instance_uid"])
    drop = tmp_path / "drop"
    sim.apply_operations(
        sample_drops["north"], [sim.Delete(s, sop_uids=tuple(u)) for s, u in by_study.items()], drop
    )
    config = copy_hub(archived, tmp_path / "hub", "north", drop)
    before = export(config)
    with pytest.raises(MassDeletionBlocked, match="--allow-mass-delete") as info:
        run_spoke(config, "north")
    assert info.value.deleting == len(doomed) and export(config) == before
    result = run_spoke(config, "north", allow_mass_delete=True)
    assert result["deleting"] == len(doomed) and result["kinds"] == {"DELETE": len(by_study)}


def test_an_empty_manifest_deletes_nothing(archived, sample_drops, tmp_path):
    from spokesync.tasks.manifest.build import write_manifest

    drop = tmp_path / "empty"
    write_manifest(sim.manifest_of(sample_drops["north"]).slice(0, 0), drop, "north")
    config = copy_hub(archived, tmp_path / "hub", "north", drop)
    before = catalog_view(config)
    result = run_spoke(config, "north")
    assert result["cc_records"] == 0 and catalog_view(config) == before


def test_a_study_missing_from_the_manifest_is_never_deleted(archived, sample_drops, tmp_path):
    from spokesync.tasks.manifest.build import write_manifest

    table = sim.manifest_of(sample_drops["north"])
    kept = table.filter(
        table.column("study_instance_uid").to_numpy(zero_copy_only=False)
        != sim.study_uids(table)[0]
    )
    drop = tmp_path / "drop"
    write_manifest(kept, drop, "north")
    (drop / "objects").symlink_to(sample_drops["north"] / "objects")
    config = copy_hub(archived, tmp_path / "hub", "north", drop)
    result = run_spoke(config, "north")
    assert result["cc_records"] == 0 and result["deleting"] == 0


def test_undecidable_twins_wait_as_one_ambiguous_record_and_nothing_is_guessed(
    sample_drops, tmp_path
):
    study = sim.study_uids(sim.manifest_of(sample_drops["north"]))[0]
    before_drop, after_drop = tmp_path / "before", tmp_path / "after"
    first, second = sim.make_ambiguous(sample_drops["north"], before_drop, after_drop, study)
    from spokesync.tasks.config import init_config

    file = init_config(tmp_path / "hub")
    add_spoke(file, "north", before_drop)
    config = load_config(file)
    run_spoke(config, "north")
    view = catalog_view(config)
    add_spoke(file, "north", after_drop)
    result = run_spoke(load_config(file), "north")
    found = records_of_run(config, result["run_id"])
    assert [r[:2] for r in found] == [("AMBIGUOUS", "pending_review")]
    assert [r.kind for r in second.records] == ["AMBIGUOUS"]
    assert result["new_instances"] == 0 and catalog_view(config) == view
