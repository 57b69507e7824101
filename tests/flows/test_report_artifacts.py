"""A run's Prefect artifacts: a markdown summary and a cc-record table, with no patient values."""

from __future__ import annotations

import json

from prefect import flow
from prefect.artifacts import Artifact

import simulator as sim
from simulator.samples import PATIENTS
from spokesync.tasks.config import add_spoke, load_config
from spokesync.tasks.reconcile.run import run_spoke
from spokesync.tasks.reports.summary import artifact_key, publish_artifacts
from spokesync.tasks.reports.tables import write_reports_task

RENAMED = "FAKE^RENAMED"


@flow(name="reconcile-and-report")
def reconcile_and_report(config_file: str, spoke: str) -> str:
    """What reconcile-spoke does once the lead wires reports in: commit, report, publish."""
    config = load_config(config_file)
    run_id = run_spoke(config, spoke)["run_id"]
    reports = write_reports_task(config, run_id)
    publish_artifacts(reports[-1])
    return run_id


def private_values() -> list[str]:
    """Every patient name, birth date and ID the sample spokes and this test use."""
    people = [p for spoke in PATIENTS.values() for p in spoke]
    return [RENAMED] + [v for p in people for v in (p.name, p.birth_date, p.patient_id)]


def test_run_publishes_a_summary_and_a_record_table_without_patient_values(hub, tmp_path):
    first = reconcile_and_report(str(hub.file), "north")
    table = sim.manifest_of(hub.spokes["north"].drop)
    patient = sim.patient_ids(table)[0]
    other = sim.studies_of_patient(table, sim.patient_ids(table)[1])[0]
    ops = [
        sim.Correct("patient", patient, "patient_name", RENAMED, "impax"),
        sim.fix_uid(table, other, "impax"),
    ]
    truth = sim.apply_operations(hub.spokes["north"].drop, ops, tmp_path / "night2")
    add_spoke(hub.file, "north", tmp_path / "night2")

    state = reconcile_and_report(str(hub.file), "north", return_state=True)
    second = state.result()

    summary = Artifact.get(artifact_key("north", "summary"))
    records = Artifact.get(artifact_key("north", "changes"))
    assert summary.type == "markdown" and records.type == "table"
    assert summary.flow_run_id == records.flow_run_id == state.state_details.flow_run_id
    text = summary.data
    assert f"# Run {second}" in text and first not in text
    corrected = sum(r.kind == "ATTRIBUTES" for r in truth.records)
    assert f"| ATTRIBUTES | {corrected} |" in text and "| UID_FIX | 1 |" in text
    assert "pending review for north: 1" in text
    rows = json.loads(records.data)
    assert sorted(r["kind"] for r in rows) == sorted(r.kind for r in truth.records)
    assert {r["attributes"] for r in rows} >= {"patient_name", "accession_number"}
    for value in private_values():
        assert value not in text and value not in records.data, value
