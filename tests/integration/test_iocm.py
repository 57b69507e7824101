"""IOCM rejection notes: valid KOS documents that reference exactly the deleted instances."""

from __future__ import annotations

import shutil
import subprocess

import pydicom
import pytest
from typer.testing import CliRunner

import simulator as sim
from spokesync.flows.cli.main import app
from spokesync.tasks.config import add_spoke, init_config, load_config
from spokesync.tasks.reconcile.run import run_spoke

needs_dciodvfy = pytest.mark.skipif(
    shutil.which("dciodvfy") is None, reason="dciodvfy (Debian dicom3tools) is not installed"
)


def referenced(note) -> set[str]:
    return {
        item.ReferencedSOPInstanceUID
        for study in note.CurrentRequestedProcedureEvidenceSequence
        for series in study.ReferencedSeriesSequence
        for item in series.ReferencedSOPSequence
    }


@needs_dciodvfy
def test_rejection_notes_validate_and_reference_exactly_the_deleted_instances(
    tmp_path, sample_drops
):
    file = init_config(tmp_path / "hub")
    add_spoke(file, "north", sample_drops["north"])
    run_spoke(load_config(file), "north")
    table = sim.manifest_of(sample_drops["north"])
    studies = sim.study_uids(table)
    series_op = sim.delete_last_series(table, studies[0])
    drop = tmp_path / "deleted"
    sim.apply_operations(
        sample_drops["north"], [series_op, sim.DeleteStudy(studies[4], "113039")], drop
    )
    add_spoke(file, "north", drop)
    run_spoke(load_config(file), "north", allow_mass_delete=True)
    gone_series = {
        r["sop_instance_uid"]
        for r in table.to_pylist()
        if r["series_instance_uid"] in series_op.series_uids
    }
    gone_study = set(sim.instances_of(table, studies[4]))

    out = tmp_path / "iocm"
    result = CliRunner().invoke(
        app, ["changes", "export-iocm", "--out", str(out), "--config", str(file)]
    )
    assert result.exit_code == 0, result.output
    notes = {p.name: pydicom.dcmread(p) for p in sorted(out.glob("*.dcm"))}
    assert sorted(notes) == sorted([f"{studies[0]}-113001.dcm", f"{studies[4]}-113039.dcm"])
    first, second = notes[f"{studies[0]}-113001.dcm"], notes[f"{studies[4]}-113039.dcm"]
    assert referenced(first) == gone_series and referenced(second) == gone_study
    assert first.ConceptNameCodeSequence[0].CodeValue == "113001"
    assert second.ConceptNameCodeSequence[0].CodeValue == "113039"
    assert first.StudyInstanceUID == studies[0]
    for path in out.glob("*.dcm"):
        check = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True)
        errors = [line for line in check.stderr.splitlines() if line.startswith("Error")]
        assert errors == [], (path.name, errors)
