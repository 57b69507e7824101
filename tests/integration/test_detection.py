"""Each simulator operation × each UID convention → exactly the expected cc records."""

from __future__ import annotations

import pytest

import simulator as sim
from spokesync.tasks.reconcile.run import run_spoke
from tests.support.detection import (
    catalog_view,
    copy_hub,
    drop_view,
    expected_records,
    records_of_run,
)

CONVENTIONS = ("impax", "orthanc")


def _studies(table):
    return sim.study_uids(table)


def _patient(table, n=0):
    return sim.patient_ids(table)[n]


OPERATIONS = {
    "split": lambda t, c: [sim.split_half(t, _studies(t)[0], c)],
    "merge": lambda t, c: [sim.merge_studies(t, _studies(t)[:2], c)],
    "merge_into_new": lambda t, c: [sim.merge_studies(t, _studies(t)[1:4], c, into_first=False)],
    "segment": lambda t, c: [sim.segment_in_two(t, _studies(t)[2], c)],
    "correct_patient_name": lambda t, c: [
        sim.Correct("patient", _patient(t), "patient_name", "FAKE^CORRECTED", c)
    ],
    "correct_patient_id": lambda t, c: [
        sim.Correct("patient", _patient(t, 1), "patient_id", "FIXEDPID1", c)
    ],
    "correct_study_description": lambda t, c: [
        sim.Correct("study", _studies(t)[3], "study_description", "CORRECTED", c)
    ],
    "correct_study_id": lambda t, c: [sim.Correct("study", _studies(t)[1], "study_id", "S999", c)],
    "delete_series": lambda t, c: [sim.delete_last_series(t, _studies(t)[0])],
    "delete_study": lambda t, c: [sim.DeleteStudy(_studies(t)[4], "113039")],
    "fix_uid": lambda t, c: [sim.fix_uid(t, _studies(t)[1], c)],
    "add_presentation_state": lambda t, c: [sim.AddObject(_studies(t)[0], "PR", c)],
    "add_secondary_capture": lambda t, c: [sim.AddObject(_studies(t)[2], "SC", c)],
    "new_study": lambda t, c: [sim.NewStudy(sim.PatientRef(_patient(t)), 3, c)],
}


def reconcile_after(archived, sample_drops, tmp_path, ops):
    drop = tmp_path / "drop"
    truth = sim.apply_operations(sample_drops["north"], ops, drop)
    config = copy_hub(archived, tmp_path / "hub", "north", drop)
    result = run_spoke(config, "north", allow_mass_delete=True)
    return config, drop, truth, result


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_operation_yields_exactly_the_expected_records(
    archived, sample_drops, tmp_path, name, convention
):
    table = sim.manifest_of(sample_drops["north"])
    ops = OPERATIONS[name](table, convention)
    config, drop, truth, result = reconcile_after(archived, sample_drops, tmp_path, ops)
    assert records_of_run(config, result["run_id"]) == expected_records(truth)
    if all(r.status == "applied" for r in truth.records):
        assert catalog_view(config) >= drop_view(drop)
        reported = {r[2] for r in drop_view(drop)}
        assert {r for r in catalog_view(config) if r[2] in reported} == drop_view(drop)


def test_reconciling_the_changed_drop_again_plans_nothing(archived, sample_drops, tmp_path):
    table = sim.manifest_of(sample_drops["north"])
    ops = [
        sim.split_half(table, _studies(table)[0], "orthanc"),
        sim.fix_uid(table, _studies(table)[1]),
    ]
    config, drop, truth, _ = reconcile_after(archived, sample_drops, tmp_path, ops)
    again = run_spoke(config, "north")
    assert again["cc_records"] == 0 and again["kinds"] in ({}, {"UID_FIX": 1})
    assert records_of_run(config, again["run_id"]) == []
