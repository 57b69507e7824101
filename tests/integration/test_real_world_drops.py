"""Real spokes' exports: over-long values, unreadable files and file names that are not UTF-8
go through `spokesync manifest build` and a reconcile as a PACS administrator would run them."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pyarrow.parquet as pq
import pydicom
import pytest
from pydicom.data import get_testdata_file
from typer.testing import CliRunner

from spokesync.catalog.report_views import open_reports, query
from spokesync.flows.cli.main import app
from spokesync.tasks.config import add_spoke, init_config, load_config
from spokesync.tasks.manifest import build as manifest_build
from spokesync.tasks.manifest.drop_read import read_drop, read_rejected
from spokesync.tasks.reconcile.run import run_spoke
from spokesync.tasks.reports.summary import run_summary
from spokesync.tasks.reports.tables import write_reports
from tests.support.builders import uid

STUDY, SERIES = uid("real-world", "study"), uid("real-world", "series")
LONG_DESCRIPTION = "CT THORAX ABDOMEN PELVIS WITH CONTRAST, ARTERIAL AND PORTAL VENOUS PHA"


def write_export(folder: Path, count: int = 3, **values) -> list[Path]:
    """`count` CT objects of one study, from pydicom's CT_small.dcm, as a PACS exports them."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
        ds.StudyInstanceUID, ds.SeriesInstanceUID = STUDY, SERIES
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid("real-world", n)
        ds.PatientID, ds.InstanceNumber = "00123", n + 1
        ds.PixelData = bytes([n + 1]) + ds.PixelData[1:]  # each image its own pixels
        with warnings.catch_warnings():  # pydicom warns of the over-long value we mean
            warnings.simplefilter("ignore")
            for keyword, value in values.items():
                setattr(ds, keyword, value)
        paths.append(folder / f"IM{n:04d}.dcm")
        ds.save_as(paths[-1], enforce_file_format=True)
    return paths


def build(export: Path, drop: Path) -> str:
    result = CliRunner().invoke(
        app, ["manifest", "build", str(export), "--spoke", "north", "--out", str(drop)]
    )
    assert result.exit_code == 0, result.output
    return result.output


def hub_for(tmp_path: Path, drop: Path):
    file = init_config(tmp_path / "hub")
    add_spoke(file, "north", drop)
    return load_config(file)


def test_a_70_character_study_description_is_archived_and_named_in_the_data_quality_report(
    tmp_path,
):
    write_export(tmp_path / "export", StudyDescription=LONG_DESCRIPTION)
    assert "3 instances in manifest, 0 file(s) rejected" in build(
        tmp_path / "export", tmp_path / "drop"
    )
    config = hub_for(tmp_path, tmp_path / "drop")

    outcome = run_spoke(config, "north")
    [report] = write_reports(config, outcome["run_id"])

    assert outcome["status"] == "committed" and outcome["new_instances"] == 3
    found = query(open_reports(config.reports), "data_quality").to_pylist()
    assert sorted((f["kind"], f["row_id"], f["column"]) for f in found) == [
        ("value_over_vr_limit", row, "study_description") for row in range(3)
    ]
    assert {f["sop_instance_uid"] for f in found} == {uid("real-world", n) for n in range(3)}
    markdown, _ = run_summary(report)
    assert "- 3 data quality: value(s) over their VR's length limit" in markdown
    assert LONG_DESCRIPTION not in str(found) + markdown


def test_truncated_and_zero_byte_files_are_rejected_with_what_identity_they_still_show(
    tmp_path,
):
    paths = write_export(tmp_path / "export", count=4)
    paths[2].write_bytes(paths[2].read_bytes()[:-100])  # header intact, pixels cut short
    paths[3].write_bytes(b"")
    assert "2 instances in manifest, 2 file(s) rejected" in build(
        tmp_path / "export", tmp_path / "drop"
    )

    rejected = pq.read_table(tmp_path / "drop" / "rejected.parquet").to_pylist()
    drop = read_drop(tmp_path / "drop", "north")

    assert [(r["path"], r["study_instance_uid"], r["sop_instance_uid"]) for r in rejected] == [
        ("IM0002.dcm", STUDY, uid("real-world", 2)),
        ("IM0003.dcm", None, None),
    ]
    assert rejected[0]["patient_id"] == "00123" and "truncated" in rejected[0]["reason"]
    assert drop.incomplete_studies == {STUDY} and drop.cannot_delete


def test_a_run_reports_the_studies_its_rejected_objects_leave_incomplete(tmp_path):
    paths = write_export(tmp_path / "export", count=3)
    paths[1].write_bytes(paths[1].read_bytes()[:-100])
    build(tmp_path / "export", tmp_path / "drop")
    config = hub_for(tmp_path, tmp_path / "drop")

    outcome = run_spoke(config, "north")
    [report] = write_reports(config, outcome["run_id"])

    found = query(open_reports(config.reports), "data_quality").to_pylist()
    assert sorted((f["kind"], f["path"], f["study_instance_uid"]) for f in found) == [
        ("incomplete_study", None, STUDY),
        ("rejected_object", "IM0001.dcm", STUDY),
    ]
    staged = read_rejected(config.work / outcome["run_id"])
    assert staged.incomplete_studies == {STUDY} and not staged.cannot_delete
    assert "- 1 data quality: incomplete stud(ies)" in run_summary(report)[0]


def test_a_file_name_that_is_not_utf8_is_archived_under_a_generated_name(tmp_path):
    export = tmp_path / "export"
    paths = write_export(export, count=2)
    os.rename(paths[1], os.fsdecode(os.fsencode(export) + b"/caf\xe9.dcm"))
    (export / os.fsdecode(b"bad\xff.dcm")).write_bytes(b"not DICOM")
    build(export, tmp_path / "drop")

    manifest = pq.read_table(tmp_path / "drop" / "manifest.parquet").to_pylist()
    rejected = pq.read_table(tmp_path / "drop" / "rejected.parquet").to_pylist()
    renamed = [r["object_uri"] for r in manifest if r["object_uri"].startswith("objects/renamed/")]
    assert len(manifest) == 2 and len(renamed) == 1
    assert (tmp_path / "drop" / renamed[0]).read_bytes()[128:132] == b"DICM"
    assert [r["path"] for r in rejected] == ["bad\\xff.dcm"]
    outcome = run_spoke(hub_for(tmp_path, tmp_path / "drop"), "north")
    assert outcome["status"] == "committed" and outcome["new_instances"] == 2


def test_a_build_that_fails_leaves_the_previous_drop_and_no_half_written_one(tmp_path, monkeypatch):
    write_export(tmp_path / "export", count=2)
    build(tmp_path / "export", tmp_path / "drop")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    write_export(tmp_path / "export", count=3)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(manifest_build, "write_manifest", broken)
    with pytest.raises(OSError, match="disk full"):
        manifest_build.build_drop(tmp_path / "export", "north", tmp_path / "drop")

    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert after == sorted([*before, Path("export/IM0002.dcm")])
    assert len(read_drop(tmp_path / "drop", "north").manifest) == 2


def test_an_object_in_a_character_set_the_hub_does_not_know_is_archived_and_reported(tmp_path):
    [path] = write_export(tmp_path / "export", count=1, SpecificCharacterSet="ISO_IR 100")
    data = path.read_bytes().replace(b"ISO_IR 100", b"ISO_IR 999", 1)  # same length
    path.write_bytes(data)
    assert "1 instances in manifest, 0 file(s) rejected" in build(
        tmp_path / "export", tmp_path / "drop"
    )
    config = hub_for(tmp_path, tmp_path / "drop")

    outcome = run_spoke(config, "north")
    write_reports(config, outcome["run_id"])

    assert outcome["status"] == "committed" and outcome["new_instances"] == 1
    found = query(open_reports(config.reports), "data_quality").to_pylist()
    assert [(f["kind"], f["path"], f["sop_instance_uid"], f["column"]) for f in found] == [
        ("unknown_character_set", "IM0000.dcm", uid("real-world", 0), "SpecificCharacterSet")
    ]
    assert "'ISO_IR 999'" in found[0]["problem"]
