"""Retrieval applies every change on the way out: what comes out is what the spoke holds."""

from __future__ import annotations

import shutil
import tracemalloc

import pydicom
import pytest
from typer.testing import CliRunner

import simulator as sim
from spokesync.catalog import open_catalog
from spokesync.catalog.review import approve, open_reviews
from spokesync.flows.cli.main import app
from spokesync.tasks.config import add_spoke, init_config, load_config
from spokesync.tasks.nearline.members import read_member
from spokesync.tasks.reconcile.run import run_spoke
from spokesync.tasks.retrieve.plan import plan_study, tar_of
from spokesync.tasks.retrieve.study import export_to_folder, retrieve_study
from tests.integration.test_detection import CONVENTIONS, OPERATIONS
from tests.support.detection import copy_hub
from tests.support.retrieve import (
    contents,
    dciodvfy_errors,
    reconcile,
    referenced_uids,
    retrieve_all,
    spoke_files,
    stored_sop_uid,
)


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_retrieval_after_each_operation_equals_what_the_spoke_holds(
    archived, sample_drops, tmp_path, name, convention
):
    source = sample_drops["north"]
    ops = OPERATIONS[name](sim.manifest_of(source), convention)
    config, drop, truth = reconcile(archived, tmp_path, source, ops)
    if any(r.status != "applied" for r in truth.records):
        # Waiting for review, the hub still serves the study as it was; approved, as it is now.
        assert contents(retrieve_all(config, tmp_path / "before")) == contents(spoke_files(source))
        approve_everything_pending(config)
    retrieved = contents(retrieve_all(config, tmp_path / "out"))
    assert retrieved == contents(spoke_files(drop))


def approve_everything_pending(config) -> None:
    with open_catalog(config.catalog) as con:
        for pending in open_reviews(con):
            approve(con, pending["seq"], by="test")


def test_presentation_state_follows_its_images_through_an_orthanc_merge(
    archived, sample_drops, tmp_path
):
    source = sample_drops["north"]
    first, second = sim.study_uids(sim.manifest_of(source))[:2]
    _, with_pr, _ = reconcile(archived, tmp_path, source, [sim.AddObject(first, "PR")], "pr")
    merge = sim.Merge((second, first), target=second, convention="orthanc")
    config, drop, _ = reconcile(archived, tmp_path, with_pr, [merge], "merged")
    out = tmp_path / "out"
    result = retrieve_study(config, second, out=out)
    retrieved = {f.stem: pydicom.dcmread(f) for f in out.rglob("*.dcm")}
    pr = next(ds for ds in retrieved.values() if ds.Modality == "PR")
    held = pydicom.dcmread(spoke_files(drop)[pr.SOPInstanceUID])
    images = {ds.SOPInstanceUID: ds for ds in retrieved.values() if "PixelData" in ds}
    references = [ref.ReferencedSOPInstanceUID for s in pr.ReferencedSeriesSequence
                  for ref in s.ReferencedImageSequence]  # fmt: skip
    [stored] = pr.OriginalAttributesSequence[-1].ModifiedAttributesSequence
    before = [ref.ReferencedSOPInstanceUID for s in stored.ReferencedSeriesSequence
              for ref in s.ReferencedImageSequence]  # fmt: skip
    assert len(references) == 3 and set(references) <= set(images)
    assert len(before) == 3 and set(before).isdisjoint(references)  # Orthanc renamed them
    assert {s.SeriesInstanceUID for s in pr.ReferencedSeriesSequence} == {
        images[r].SeriesInstanceUID for r in references
    }
    assert sorted(referenced_uids(pr)) == sorted(referenced_uids(held))
    assert result.remapped_uids > 3 and not result.failed


def test_original_attributes_sequence_holds_the_old_name_after_a_patient_name_correction(
    archived, sample_drops, tmp_path
):
    source = sample_drops["north"]
    table = sim.manifest_of(source)
    patient = sim.patient_ids(table)[0]
    study = sim.studies_of_patient(table, patient)[0]
    old_name = next(r["patient_name"] for r in table.to_pylist() if r["patient_id"] == patient)
    fix = sim.Correct("patient", patient, "patient_name", "FAKE^CORRECTED", "impax")
    config, _, _ = reconcile(archived, tmp_path, source, [fix])
    result = retrieve_study(config, study, out=tmp_path / "out")
    files = sorted((tmp_path / "out").rglob("*.dcm"))
    assert result.corrected == {"PatientName": len(files)} and len(files) == result.sent > 0
    for path in files:
        ds = pydicom.dcmread(path)
        [item] = ds.OriginalAttributesSequence
        [modified] = item.ModifiedAttributesSequence
        assert str(ds.PatientName) == "FAKE^CORRECTED"
        assert str(modified.PatientName) == old_name and list(modified.keys()) == [0x00100010]
        assert (item.ModifyingSystem, item.ReasonForTheAttributeModification) == (
            "spokesync",
            "CORRECT",
        )
        assert item.AttributeModificationDateTime[:8].isdigit()


def test_retrieved_files_have_no_dciodvfy_error_their_stored_original_lacks(
    archived, sample_drops, tmp_path
):
    if not shutil.which("dciodvfy"):
        pytest.skip("dciodvfy is missing (Debian package dicom3tools)")
    source = sample_drops["north"]
    table = sim.manifest_of(source)
    patient = sim.patient_ids(table)[0]
    rest = [s for s in sim.study_uids(table) if s not in sim.studies_of_patient(table, patient)]
    ops = [
        sim.Correct("patient", patient, "patient_name", "FAKE^NEW", "orthanc"),
        sim.merge_studies(table, rest[:2], "orthanc"),
        sim.AddObject(rest[2], "PR"),
    ]
    config, _, _ = reconcile(archived, tmp_path, source, ops)
    originals = spoke_files(source)
    checked, originals_with_errors = 0, 0
    for path in sorted(retrieve_all(config, tmp_path / "out").values()):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        original = originals.get(stored_sop_uid(ds))
        before = dciodvfy_errors(original) if original else []  # a new object: no error at all
        new_errors = set(dciodvfy_errors(path)) - set(before)
        assert not new_errors, f"{path.name}: {sorted(new_errors)}"
        checked, originals_with_errors = checked + 1, originals_with_errors + bool(before)
    assert checked == 151 and originals_with_errors >= 2  # the sample SR and RTSTRUCT have some


def test_unchanged_objects_go_out_as_their_stored_bytes(archived, sample_drops, tmp_path):
    config = copy_hub(archived, tmp_path / "hub", "north", sample_drops["north"])
    plan = plan_study(config, sim.study_uids(sim.manifest_of(sample_drops["north"]))[0])
    result = export_to_folder(plan, tmp_path / "out")
    assert result.sent == len(plan.instances) > 0 and result.remapped_uids == 0
    for inst in plan.instances:
        path = tmp_path / "out" / inst.study_instance_uid / inst.series_instance_uid
        stored = read_member(tar_of(inst), inst.data_offset, inst.size, inst.sha256)
        assert (path / f"{inst.sop_instance_uid}.dcm").read_bytes() == stored


def test_deleted_instances_are_left_out_and_counted(archived, sample_drops, tmp_path):
    source = sample_drops["north"]
    table = sim.manifest_of(source)
    study = sim.study_uids(table)[0]
    config, drop, _ = reconcile(archived, tmp_path, source, [sim.delete_last_series(table, study)])
    result = retrieve_study(config, study, out=tmp_path / "out")
    deleted = len(sim.instances_of(table, study)) - len(
        sim.instances_of(sim.manifest_of(drop), study)
    )
    assert result.skipped == {"deleted": deleted} and deleted > 0
    assert result.sent == len(list((tmp_path / "out").rglob("*.dcm"))) == result.instances


def test_retrieval_by_an_old_study_uid_says_it_resolved_it(archived, sample_drops, tmp_path):
    source = sample_drops["north"]
    table = sim.manifest_of(source)
    old = sim.study_uids(table)[3]
    fix = sim.Correct("study", old, "study_description", "CORRECTED", "orthanc")
    config, _, truth = reconcile(archived, tmp_path, source, [fix])
    [new] = truth.records[0].target_study_uids
    with open_catalog(config.catalog) as con:  # a re-identified study waits for review
        [pending] = [r["seq"] for r in open_reviews(con)]
        approve(con, pending, by="tester")
    out = tmp_path / "out"
    args = ["retrieve", old, "--out", str(out), "--config", str(config.file)]
    run = CliRunner().invoke(app, args, terminal_width=250)
    assert run.exit_code == 0, run.output
    assert f"resolved old study UID {old} to {new}" in run.output
    files = list(out.rglob("*.dcm"))
    assert files and {pydicom.dcmread(f).StudyInstanceUID for f in files} == {new}
    assert "StudyDescription" in run.output and "FAKE^" not in run.output


def test_an_unknown_study_uid_is_refused_with_exit_code_2(archived, sample_drops, tmp_path):
    config = copy_hub(archived, tmp_path / "hub", "north", sample_drops["north"])
    args = ["retrieve", "1.2.3.4", "--out", str(tmp_path / "out"), "--config", str(config.file)]
    run = CliRunner().invoke(app, args, terminal_width=250)
    assert run.exit_code == 2 and "no study 1.2.3.4 in the catalog" in run.output


def test_a_flipped_byte_fails_that_object_alone_and_the_command_exits_non_zero(
    sample_drops, tmp_path
):
    file = init_config(tmp_path / "hub")  # its own nearline: the shared hub's TARs stay intact
    add_spoke(file, "north", sample_drops["north"])
    config = load_config(file)
    run_spoke(config, "north")
    study = sim.study_uids(sim.manifest_of(sample_drops["north"]))[1]
    victim = plan_study(config, study).instances[4]
    tar = config.volumes[0] / victim.tar_path
    tar.chmod(0o644)  # nearline TARs are read-only
    with open(tar, "r+b") as f:
        f.seek(victim.data_offset + victim.size - 10)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0xFF]))
    out = tmp_path / "out"
    args = ["retrieve", study, "--out", str(out), "--config", str(config.file)]
    run = CliRunner().invoke(app, args, terminal_width=400)
    assert run.exit_code == 1, run.output
    assert victim.sop_instance_uid in run.output and tar.name in run.output
    assert "SHA-256" in run.output and "spokesync verify" in run.output
    delivered = {f.stem for f in out.rglob("*.dcm")}
    assert len(delivered) == len(plan_study(config, study).instances) - 1
    assert victim.sop_instance_uid not in delivered


def test_memory_stays_flat_whatever_the_number_of_instances(archived, sample_drops, tmp_path):
    config = copy_hub(archived, tmp_path / "hub", "north", sample_drops["north"])
    peaks = {}
    for study in sim.study_uids(sim.manifest_of(sample_drops["north"])):
        plan = plan_study(config, study)
        tracemalloc.start()
        export_to_folder(plan, tmp_path / "out")
        peaks[len(plan.instances)] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    few, many = min(peaks), max(peaks)
    assert many >= 4 * few
    study_bytes = 40_000 * many  # each sample object is about 40 kB
    assert peaks[many] - peaks[few] < study_bytes / 4, peaks
