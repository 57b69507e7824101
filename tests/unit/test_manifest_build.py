"""A spoke drop built from DICOM files is a valid manifest; bad files are listed, not fatal."""

from __future__ import annotations

import csv
import json
import re
import shutil
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pydicom
import pytest

from spokesync.tasks.manifest import build as manifest_build
from spokesync.tasks.manifest import rules as manifest_rules
from spokesync.tasks.manifest import scan as manifest_scan
from spokesync.tasks.manifest.build import build_drop, write_manifest
from spokesync.tasks.manifest.fingerprints import fingerprint_file
from spokesync.tasks.manifest.schema import MANIFEST_SCHEMA


@pytest.fixture
def source(tmp_path, sample_sources):
    """A private copy of the north sample spoke that a test may add files to."""
    return shutil.copytree(sample_sources["north"], tmp_path / "src")


def rejected(drop) -> dict[str, str]:
    with open(drop / "rejected.csv", newline="", encoding="utf-8") as handle:
        return {row["path"]: row["reason"] for row in csv.DictReader(handle)}


def test_build_writes_one_row_per_object_with_the_manifest_schema(tmp_path, sample_sources):
    result = build_drop(sample_sources["north"], "north", tmp_path / "drop")
    table = pq.read_table(result.manifest_path)
    assert (result.files_seen, result.rows_written, result.rejected) == (150, 150, 0)
    assert table.schema.equals(MANIFEST_SCHEMA) and table.num_rows == 150
    manifest_rules.check(table, "manifest.parquet")  # the reader's own rules accept it
    assert rejected(result.out) == {}


def test_manifest_json_names_spoke_format_and_fingerprint_version(tmp_path, sample_sources):
    result = build_drop(sample_sources["south"], "south", tmp_path / "drop")
    meta = json.loads((result.out / "manifest.json").read_text())
    assert {k: meta[k] for k in ("spoke", "format", "fingerprint")} == {
        "spoke": "south",
        "format": 1,
        "fingerprint": "v1",
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["generated_at"])


def test_drop_objects_exist_and_match_their_rows(tmp_path, sample_sources):
    result = build_drop(sample_sources["north"], "north", tmp_path / "drop")
    for row in pq.read_table(result.manifest_path).to_pylist():
        stored = result.out / row["object_uri"]
        assert row["object_uri"].startswith("objects/") and stored.is_file()
        assert fingerprint_file(stored) == row["fingerprint"]
        assert stored.stat().st_size == row["object_size"]
        header = pydicom.dcmread(stored, stop_before_pixels=True)
        assert row["sop_instance_uid"] == header.SOPInstanceUID
        assert row["patient_name"] == str(header.PatientName)


def test_junk_and_truncated_files_are_rejected_with_a_reason(tmp_path, source):
    (source / "README.txt").write_text("not an image")
    data = (source / "N0002" / "1" / "1.dcm").read_bytes()
    (source / "N0002" / "1" / "cut.dcm").write_bytes(data[: len(data) // 2])
    result = build_drop(source, "north", tmp_path / "drop")
    reasons = rejected(result.out)
    assert result.rows_written == 150 and result.rejected == 2
    assert "not a DICOM Part 10 file" in reasons["README.txt"]
    assert "truncated" in reasons["N0002/1/cut.dcm"]
    assert not (result.out / "objects" / "README.txt").exists()


def test_duplicate_sop_instance_uid_is_rejected_and_the_first_path_kept(tmp_path, source):
    shutil.copyfile(source / "N0001" / "1" / "1.dcm", source / "N0001" / "1" / "zz-copy.dcm")
    result = build_drop(source, "north", tmp_path / "drop")
    reasons = rejected(result.out)
    assert result.rows_written == 150
    assert list(reasons) == ["N0001/1/zz-copy.dcm"]
    assert "duplicate SOP instance UID" in reasons["N0001/1/zz-copy.dcm"]
    assert "N0001/1/1.dcm" in reasons["N0001/1/zz-copy.dcm"]


def test_series_claimed_by_a_second_study_is_rejected(tmp_path, source):
    ds = pydicom.dcmread(source / "N0001" / "1" / "1.dcm")
    ds.StudyInstanceUID = ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = "2.25.4242"
    ds.save_as(source / "N0001" / "1" / "zz-other-study.dcm")
    result = build_drop(source, "north", tmp_path / "drop")
    assert "already belongs to study" in rejected(result.out)["N0001/1/zz-other-study.dcm"]


def test_parallel_build_writes_the_same_manifest_as_a_sequential_one(
    tmp_path, sample_sources, monkeypatch
):
    sequential = build_drop(sample_sources["north"], "north", tmp_path / "one", workers=1)
    monkeypatch.setattr(manifest_scan, "PARALLEL_MIN_FILES", 0)
    parallel = build_drop(sample_sources["north"], "north", tmp_path / "two", workers=2)
    first, second = pq.read_table(sequential.manifest_path), pq.read_table(parallel.manifest_path)
    assert first.num_rows == 150 and first.equals(second)


def tally(calls: list[tuple]) -> dict[str, tuple[int, set]]:
    """Per phase, in the order the phases began: the sum of what it advanced, the totals told."""
    phases = dict.fromkeys(phase for phase, _, _ in calls)
    return {p: (sum(n for q, n, _ in calls if q == p), {t for q, _, t in calls if q == p})
            for p in phases}  # fmt: skip


def test_progress_reports_reading_copying_and_writing_in_order_with_counts_that_add_up(
    tmp_path, source
):
    (source / "README.txt").write_text("not an image")  # read, then rejected: never copied
    calls: list[tuple] = []
    result = build_drop(
        source, "north", tmp_path / "drop", workers=1, progress=lambda *c: calls.append(c)
    )
    assert (result.files_seen, result.rows_written) == (151, 150)
    assert list(tally(calls).items()) == [
        (manifest_build.READING, (151, {151})),
        (manifest_build.COPYING, (150, {150})),
        (manifest_build.WRITING, (0, {None})),
    ]


def test_a_parallel_build_reports_its_workers_starting_before_the_files_they_read(
    tmp_path, sample_sources, monkeypatch
):
    monkeypatch.setattr(manifest_scan, "PARALLEL_MIN_FILES", 0)
    calls: list[tuple] = []
    build_drop(sample_sources["south"], "south", tmp_path / "drop", workers=2,
               progress=lambda *c: calls.append(c))  # fmt: skip
    assert list(tally(calls)) == [manifest_build.STARTING, manifest_build.READING,
                                  manifest_build.COPYING, manifest_build.WRITING]  # fmt: skip
    assert tally(calls)[manifest_build.STARTING] == (0, {None})
    assert tally(calls)[manifest_build.READING] == (148, {148})


def test_a_drop_inside_its_source_folder_is_not_scanned_again(tmp_path, source):
    first = build_drop(source, "north", source / "drop")
    second = build_drop(source, "north", source / "drop")
    assert first.files_seen == second.files_seen == 150 and second.rejected == 0


def test_objects_are_copied_when_linking_is_off(tmp_path, sample_sources):
    result = build_drop(sample_sources["north"], "north", tmp_path / "drop", link=False)
    stored = result.out / "objects" / "N0001" / "1" / "1.dcm"
    assert result.linked == 0 and stored.stat().st_nlink == 1


def test_write_manifest_keeps_extra_table_columns_and_writes_utc(tmp_path):
    table = pa.table({"sop_instance_uid": ["1.2.3"], "patient_id": ["P1"], "site_note": ["x"]})
    stamp = datetime(2026, 11, 28, 1, 0, tzinfo=timezone(timedelta(hours=2)))
    written = pq.read_table(write_manifest(table, tmp_path, "north", generated_at=stamp))
    assert written.schema.names == [*MANIFEST_SCHEMA.names, "site_note"]
    assert written.column("patient_id").to_pylist() == ["P1"]
    meta = json.loads((tmp_path / "manifest.json").read_text())
    assert meta["generated_at"] == "2026-11-27T23:00:00Z"
