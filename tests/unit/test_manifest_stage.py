"""Staging checks a manifest part by part and names rows in the whole file (issue 8 row 1)."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from spokesync.catalog import stage as catalog_stage
from spokesync.catalog.errors import ManifestInvalid
from spokesync.tasks.manifest import stage as manifest_stage
from spokesync.tasks.manifest.drop_read import read_drop
from tests.support.builders import rows, table, write_drop


@pytest.fixture(autouse=True)
def small_batches(monkeypatch):
    monkeypatch.setattr(manifest_stage, "BATCH_ROWS", 4)  # 14 rows: four batches


def stage(drop, tmp_path):
    staged = tmp_path / "staged.parquet"
    return manifest_stage.stage_manifest_file(drop, staged), staged


def refused(drop, tmp_path) -> ManifestInvalid:
    with pytest.raises(ManifestInvalid) as info:
        stage(drop, tmp_path)
    assert not (tmp_path / "staged.parquet").exists()  # nothing half-written is left
    return info.value


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_staged_manifest_is_the_read_one_with_row_ids(tmp_path, fmt):
    drop = write_drop(tmp_path / "drop", rows(14, studies=3, series_per_study=2), fmt=fmt)
    count, staged = stage(drop, tmp_path)
    table = pq.read_table(staged)
    assert count == 14 and table.column("row_id").to_pylist() == list(range(14))
    assert table.drop_columns(["row_id"]).equals(read_drop(drop, "north").manifest)


def test_a_bad_row_in_a_later_batch_is_named_by_its_row_in_the_file(tmp_path):
    data = rows(14)
    data[9]["series_instance_uid"] = "1.02.3"  # row 10: a leading zero
    error = refused(write_drop(tmp_path / "drop", data), tmp_path)
    assert (error.row, error.column) == (10, "series_instance_uid")
    assert "1.02.3" in error.problem


def test_a_sop_listed_in_two_batches_is_named_with_both_rows(tmp_path):
    data = rows(14)
    data[12]["sop_instance_uid"] = data[1]["sop_instance_uid"]
    error = refused(write_drop(tmp_path / "drop", data), tmp_path)
    assert error.row == 13 and "rows 2 and 13" in error.problem


def test_a_study_under_two_patients_across_batches_is_refused(tmp_path):
    data = rows(14)  # one study
    data[11]["patient_id"] = "P9999"
    error = refused(write_drop(tmp_path / "drop", data), tmp_path)
    assert (error.row, error.column) == (12, "patient_id")


def test_a_hash_collision_in_the_screen_refuses_nothing(tmp_path, monkeypatch):
    class Screen:
        def fetchone(self):
            return (True, True, True)  # as if 64-bit hashes had collided everywhere

    monkeypatch.setattr(catalog_stage.queries, "run", lambda *args: Screen())
    count, staged = stage(write_drop(tmp_path / "drop", rows(14, studies=2)), tmp_path)
    assert count == 14 and pq.read_metadata(staged).num_rows == 14


def test_an_empty_manifest_is_staged_but_still_needs_its_columns(tmp_path):
    count, staged = stage(write_drop(tmp_path / "empty", []), tmp_path)
    assert count == 0 and pq.read_metadata(staged).num_rows == 0
    no_patient = table([]).drop_columns(["patient_id"])
    error = refused(write_drop(tmp_path / "drop", no_patient), tmp_path)
    assert error.column == "patient_id" and error.row is None
