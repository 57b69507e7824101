"""Every bad input DESIGN §2 lists is refused with an error naming file, row and column."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spokesync.catalog.errors import ManifestInvalid
from spokesync.tasks.manifest.drop_read import read_drop
from tests.support.builders import rows, table, uid, write_drop


def refused(drop, spoke="north") -> ManifestInvalid:
    with pytest.raises(ManifestInvalid) as info:
        read_drop(drop, spoke)
    return info.value


def test_valid_parquet_drop_is_read_with_every_row(tmp_path):
    drop = read_drop(write_drop(tmp_path, rows(12, studies=3)), "north")
    assert len(drop.manifest) == 12
    assert drop.generated_at.year == 2026 and drop.deletions is None


def test_csv_with_the_same_header_is_accepted(tmp_path):
    drop = read_drop(write_drop(tmp_path, rows(5), fmt="csv"), "north")
    assert drop.manifest.column("series_number").type == pa.int32()
    assert drop.manifest.column("sop_instance_uid").to_pylist() == [
        r["sop_instance_uid"] for r in rows(5)
    ]


def test_missing_required_column_names_it(tmp_path):
    data = table(rows(3)).drop_columns(["series_instance_uid"])
    error = refused(write_drop(tmp_path, data))
    assert error.column == "series_instance_uid" and "manifest.parquet" in error.file
    assert "Nothing was changed" in str(error)


def test_wrong_type_names_row_and_column(tmp_path):
    data = [dict(r, series_number=str(r["series_number"])) for r in rows(4)]
    data[2]["series_number"] = "two"
    t = pa.Table.from_pylist(data)
    error = refused(write_drop(tmp_path, t))
    assert (error.row, error.column) == (3, "series_number")
    assert "'two'" in str(error) and "whole number" in str(error)


@pytest.mark.parametrize("bad", ["1.2.03.4", "1.2..3", "abc", "1.2.3.", "1" + ".1" * 40])
def test_malformed_or_overlong_uid_is_refused(tmp_path, bad):
    data = rows(4)
    data[1]["study_instance_uid"] = bad
    error = refused(write_drop(tmp_path, data))
    assert (error.row, error.column) == (2, "study_instance_uid")
    assert "not a valid DICOM UID" in str(error)


def test_same_sop_instance_twice_names_both_rows(tmp_path):
    data = rows(5)
    data[4]["sop_instance_uid"] = data[1]["sop_instance_uid"]
    error = refused(write_drop(tmp_path, data))
    assert "rows 2 and 5" in str(error) and "listed twice" in str(error)


def test_one_sop_instance_in_two_studies_is_refused(tmp_path):
    data = rows(4, studies=2)
    data[3]["sop_instance_uid"] = data[0]["sop_instance_uid"]
    error = refused(write_drop(tmp_path, data))
    assert "two studies" in str(error) and error.column == "sop_instance_uid"


def test_series_under_two_studies_is_refused(tmp_path):
    data = rows(4, studies=2)
    data[1]["series_instance_uid"] = data[0]["series_instance_uid"]
    error = refused(write_drop(tmp_path, data))
    assert error.column == "study_instance_uid" and "series" in str(error)


@pytest.mark.parametrize(
    "uri", ["../outside.dcm", "objects/../../x.dcm", "/etc/passwd", "objects\\..\\..\\x.dcm"]
)
def test_object_uri_escaping_the_drop_is_refused(tmp_path, uri):
    data = rows(3)
    data[2]["object_uri"] = uri
    error = refused(write_drop(tmp_path, data))
    assert (error.row, error.column) == (3, "object_uri") and "escapes" in str(error)


def test_wado_rs_urls_are_accepted_as_object_uris(tmp_path):
    data = rows(2)
    data[0]["object_uri"] = "https://pacs.example/dicom-web/studies/1/series/2/instances/3"
    assert len(read_drop(write_drop(tmp_path, data), "north").manifest) == 2


def test_malformed_fingerprint_is_refused_but_null_is_allowed(tmp_path):
    data = rows(3)
    data[0]["fingerprint"] = None
    data[1]["fingerprint"] = "md5:abc"
    error = refused(write_drop(tmp_path, data))
    assert (error.row, error.column) == (2, "fingerprint")


def test_empty_required_value_is_refused(tmp_path):
    data = rows(3)
    data[1]["patient_id"] = ""
    error = refused(write_drop(tmp_path, data))
    assert (error.row, error.column) == (2, "patient_id")


def test_drop_naming_another_spoke_is_refused(tmp_path):
    error = refused(write_drop(tmp_path, rows(2), spoke="south"))
    assert error.column == "spoke" and "'south'" in str(error)


def test_missing_manifest_json_says_how_to_fix(tmp_path):
    write_drop(tmp_path, rows(2))
    (tmp_path / "manifest.json").unlink()
    assert "manifest.json" in refused(tmp_path).file


def test_generated_at_without_time_zone_is_refused(tmp_path):
    error = refused(write_drop(tmp_path, rows(2), generated_at="2026-11-27T23:00:00"))
    assert error.column == "generated_at"


def test_truncated_parquet_is_refused(tmp_path):
    write_drop(tmp_path, rows(50))
    path = tmp_path / "manifest.parquet"
    path.write_bytes(path.read_bytes()[:200])
    assert "not a readable Parquet file" in str(refused(tmp_path))


def test_non_utf8_csv_is_refused(tmp_path):
    write_drop(tmp_path, rows(2), fmt="csv")
    path = tmp_path / "manifest.csv"
    path.write_bytes(path.read_bytes().replace(b"CT", b"C\xff"))
    assert "UTF-8" in str(refused(tmp_path))


def test_unknown_columns_are_kept_out_and_ignored(tmp_path):
    t = table(rows(2)).append_column("vendor_private", pa.array(["x", "y"]))
    drop = read_drop(write_drop(tmp_path, t), "north")
    assert "vendor_private" not in drop.manifest.column_names


def test_deletions_with_unknown_level_are_refused(tmp_path):
    write_drop(tmp_path, rows(2))
    pq.write_table(
        pa.table(
            {
                "level": ["patient"],
                "uid": [uid("x")],
                "reason_code": ["113001"],
                "reason_text": ["x"],
            }
        ),
        tmp_path / "deletions.parquet",
    )
    error = refused(tmp_path)
    assert (error.row, error.column) == (1, "level")


def test_meta_that_is_not_an_object_is_refused(tmp_path):
    write_drop(tmp_path, rows(1))
    (tmp_path / "manifest.json").write_text(json.dumps(["north"]))
    assert "JSON object" in str(refused(tmp_path))


@pytest.mark.parametrize(
    ("column", "limit"),
    [("accession_number", 16), ("study_description", 64), ("modality", 16)],
)
def test_a_value_over_ten_times_its_vr_limit_names_row_column_and_limit(tmp_path, column, limit):
    data = rows(3)
    data[2][column] = "A" * (10 * limit + 1)
    error = refused(write_drop(tmp_path, data))
    assert (error.row, error.column) == (3, column)
    assert f"longer than {10 * limit} characters" in str(error)


@pytest.mark.parametrize(
    ("column", "limit"),
    [("accession_number", 16), ("study_description", 64), ("patient_name", 194)],
)
def test_a_value_just_over_its_vr_limit_is_read_and_found_by_row_and_column(
    tmp_path, column, limit
):
    from spokesync.tasks.manifest.quality import row_findings

    data = rows(4)
    data[1][column] = "B" * (limit + 1)
    manifest = read_drop(write_drop(tmp_path, data), "north").manifest
    assert manifest.column(column)[1].as_py() == "B" * (limit + 1)
    found = row_findings(manifest, "manifest.parquet", first_row_id=100).to_pylist()
    assert [(f["row_id"], f["column"], f["sop_instance_uid"]) for f in found] == [
        (101, column, data[1]["sop_instance_uid"])
    ]
    assert "B" * 10 not in str(found)  # the value (a name, perhaps) is never kept


def test_a_nul_byte_in_a_patient_name_is_refused(tmp_path):
    data = rows(3)
    data[0]["patient_name"] = "FAKE\x00NAME"
    error = refused(write_drop(tmp_path, data))
    assert (error.row, error.column) == (1, "patient_name") and "control character" in str(error)


def test_a_csv_with_a_quoted_header_keeps_the_leading_zeros_of_ids(tmp_path):
    data = [dict(r, patient_id="0012", accession_number="00077") for r in rows(3)]
    drop = write_drop(tmp_path, data, fmt="csv")
    assert (drop / "manifest.csv").read_text().startswith('"sop_instance_uid"')
    manifest = read_drop(drop, "north").manifest
    assert set(manifest.column("patient_id").to_pylist()) == {"0012"}
    assert set(manifest.column("accession_number").to_pylist()) == {"00077"}


def test_a_csv_row_with_a_field_too_many_is_named_without_its_values(tmp_path):
    drop = write_drop(tmp_path, rows(3), fmt="csv")
    lines = (drop / "manifest.csv").read_text().splitlines()
    lines[2] = lines[2].replace('"P0000"', "P0000,extra")
    (drop / "manifest.csv").write_text("\n".join(lines) + "\n")
    error = refused(drop)
    assert error.row == 2 and "fields" in str(error) and "P0000" not in str(error)


def test_an_integer_patient_id_column_is_refused_naming_the_column_and_the_fix(tmp_path):
    data = table(rows(3))
    index = data.column_names.index("patient_id")
    data = data.set_column(index, "patient_id", pa.array([123, 123, 123], pa.int64()))
    error = refused(write_drop(tmp_path, data))
    assert error.column == "patient_id" and "manifest.parquet" in error.file
    assert "keep their leading zeros; write the column as string" in str(error)


def test_an_accession_column_of_nulls_only_is_still_accepted(tmp_path):
    data = table(rows(3))
    index = data.column_names.index("accession_number")
    data = data.set_column(index, "accession_number", pa.nulls(3))
    assert read_drop(write_drop(tmp_path, data), "north").manifest.num_rows == 3


def test_a_drop_stamped_beyond_the_clock_skew_is_refused_with_its_value(tmp_path):
    from datetime import UTC, datetime

    from spokesync.tasks.manifest.drop_read import read_meta

    drop = write_drop(tmp_path, rows(3), generated_at="2026-11-28T00:06:00Z")
    now = datetime(2026, 11, 28, tzinfo=UTC)
    with pytest.raises(ManifestInvalid) as info:
        read_meta(drop / "manifest.json", "north", now=now)
    assert info.value.column == "generated_at" and "2026-11-28T00:06:00" in str(info.value)
    assert "manifest.json" in info.value.file and "clock" in info.value.fix
    skewed = write_drop(tmp_path / "b", rows(3), generated_at="2026-11-28T00:04:00Z")
    assert read_meta(skewed / "manifest.json", "north", now=now).minute == 4
