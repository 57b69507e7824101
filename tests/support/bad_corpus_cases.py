"""The bad-input cases: how each one breaks a good drop, and what the hub must answer."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from tests.support.bad_inputs import Expect
from tests.support.builders import uid

STUDY, SERIES = uid("bad", "study"), uid("bad", "series")
SOPS = tuple(uid("bad", "sop", n) for n in range(3))
UID_FIX = "dot-separated numbers"
KEYS = ("what", "error", "run", "spoke", "build", "file", "row", "column", "uid", "phrase", "fix",
        "reported")  # fmt: skip


@dataclass(frozen=True)
class Case(Expect):
    """An expectation plus how the committed drop is made from a good one."""

    fmt: str = "csv"
    rows: Callable[[list[dict]], list[dict] | pa.Table] | None = None
    meta: Callable[[dict], dict | None] | None = None
    deletions: list[dict] | None = None
    after: Callable[[Path], None] | None = None

    def expect_toml(self) -> str:
        lines = []
        for key in KEYS:
            value = getattr(self, key)
            if value not in ("", None) or key == "error":
                lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
        return "\n".join(lines) + "\n"


def edit(row: int, **values) -> Callable[[list[dict]], list[dict]]:
    """Change some columns of one row (1 = first data row)."""

    def change(rows: list[dict]) -> list[dict]:
        rows[row - 1] = {**rows[row - 1], **values}
        return rows

    return change


def set_meta(**values) -> Callable[[dict], dict]:
    return lambda meta: {**meta, **values}


def truncate(name: str, keep: int) -> Callable[[Path], None]:
    def cut(folder: Path) -> None:
        path = folder / name
        path.write_bytes(path.read_bytes()[:keep])

    return cut


def replace_bytes(old: bytes, new: bytes, name: str = "manifest.csv") -> Callable[[Path], None]:
    def swap(folder: Path) -> None:
        path = folder / name
        path.write_bytes(path.read_bytes().replace(old, new, 1))

    return swap


def evil_tar(member: str, link: str = "") -> Callable[[Path], None]:
    """A series TAR as a hostile or broken writer could leave it on a volume."""

    def write(folder: Path) -> None:
        with tarfile.open(folder / "series.tar", "w", format=tarfile.USTAR_FORMAT) as tar:
            for name, data in ((member, b"" if link else b"escape"), ("SHA256SUMS", b"")):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                if link and name == member:
                    info.type, info.linkname = tarfile.SYMTYPE, link
                tar.addfile(info, io.BytesIO(data))

    return write


def _uid_case(name: str, what: str, bad: str) -> Case:
    return Case(name, what, "ManifestInvalid", "manifest.csv", "not a valid DICOM UID",
                UID_FIX, row=2, column="study_instance_uid", uid=bad,
                rows=edit(2, study_instance_uid=bad))  # fmt: skip


def _drop_column(name: str) -> Callable[[list[dict]], pa.Table]:
    from spokesync.tasks.manifest.schema import MANIFEST_SCHEMA

    return lambda rows: pa.Table.from_pylist(rows, MANIFEST_SCHEMA).drop_columns([name])


def _series_number_as_text(rows: list[dict]) -> pa.Table:
    data = [{**r, "series_number": str(r["series_number"])} for r in rows]
    data[2]["series_number"] = "two"
    return pa.Table.from_pylist(data)


def _wrong_header(folder: Path) -> None:
    path = folder / "manifest.csv"
    head, sep, body = path.read_bytes().partition(b"\n")
    keywords = head.replace(b'"sop_instance_uid"', b'"SOPInstanceUID"')
    path.write_bytes(keywords + sep + body)


def _missing_object(folder: Path) -> None:
    (folder / "objects" / f"{SOPS[1]}.dcm").unlink()


def _not_dicom(folder: Path) -> None:
    (folder / "objects" / f"{SOPS[1]}.dcm").write_text("this is the report, not the image\n")


def _truncated_object(folder: Path) -> None:
    path = folder / "objects" / f"{SOPS[1]}.dcm"
    path.write_bytes(path.read_bytes()[:-5])


def _rewrite(source: str, target: str, **values) -> Callable[[Path], None]:
    """An object saved again with other identity attributes (its pixel bytes stay as they are)."""

    def rewrite(folder: Path) -> None:
        import pydicom

        ds = pydicom.dcmread(folder / "objects" / source)
        for keyword, value in values.items():
            setattr(ds, keyword, value)
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.save_as(folder / "objects" / target, enforce_file_format=True)

    return rewrite


def _patient_id_as_number(rows: list[dict]) -> pa.Table:
    from spokesync.tasks.manifest.schema import MANIFEST_SCHEMA

    data = pa.Table.from_pylist([{**r, "patient_id": "00123"} for r in rows], MANIFEST_SCHEMA)
    index = data.column_names.index("patient_id")
    return data.set_column(index, "patient_id", pa.array([123] * len(rows), pa.int64()))


def _two_rows_same(rows: list[dict]) -> list[dict]:
    return [*rows, dict(rows[0])]


def _sop_in_two_studies(rows: list[dict]) -> list[dict]:
    other = uid("bad", "other-study")
    moved = {**rows[0], "study_instance_uid": other, "series_instance_uid": uid("bad", "s2")}
    return [*rows, moved]


M, OBJ, J = "ManifestInvalid", "ObjectRefused", "manifest.json"
CSV, PQ, DEL = "manifest.csv", "manifest.parquet", "deletions.parquet"
FP_OTHER = "px1:" + "0" * 64
CASES = (
    Case("parquet_truncated", "manifest.parquet cut short in transfer", M, PQ,
         "not a readable Parquet", "write the file again", fmt="parquet",
         after=truncate(PQ, 600)),
    Case("parquet_empty_file", "manifest.parquet of zero bytes", M, PQ,
         "not a readable Parquet", "write the file again", fmt="parquet", after=truncate(PQ, 0)),
    Case("csv_empty_file", "manifest.csv of zero bytes", M, CSV, "not a readable",
         "manifest header", after=truncate(CSV, 0)),
    Case("csv_wrong_header", "CSV header with DICOM keywords instead of the manifest's names",
         M, CSV, "required column", "add the column", column="sop_instance_uid",
         after=_wrong_header),
    Case("csv_not_utf8", "a Latin-1 patient name in a CSV", M, CSV, "UTF-8", "UTF-8", row=1,
         column="patient_name", after=replace_bytes(b"FAKE^BAD", b"M\xfcller^Bad")),
    Case("csv_unquoted_comma", "a description with a comma, unquoted: one field too many",
         M, CSV, "25 fields", "quote every value", row=1,
         after=replace_bytes(b'"bad input corpus"', b"bad input, corpus")),
    Case("nul_byte_in_value", "a NUL byte inside a patient name", M, CSV, "control character",
         "without control characters", row=1, column="patient_name",
         after=replace_bytes(b"FAKE^BAD", b"FAKE\x00BAD")),
    _uid_case("uid_leading_zero", "a UID component with a leading zero", "1.2.03.4"),
    _uid_case("uid_letters", "letters in a UID", "1.2.abc.4"),
    _uid_case("uid_trailing_dot", "a UID ending with a dot", "1.2.3."),
    _uid_case("uid_empty_component", "two dots in a row", "1.2..3"),
    _uid_case("uid_65_chars", "a UID one character over the limit", "1.2." + "3" * 61),
    _uid_case("uid_with_space", "a UID padded with a space", "1.2.3.4 "),
    Case("sop_in_two_studies", "one SOP instance listed under two studies", M, CSV,
         "two studies", "exactly one study", row=4, column="sop_instance_uid", uid=SOPS[0],
         rows=_sop_in_two_studies),
    Case("duplicate_rows", "the same row twice", M, CSV, "listed twice", "list each SOP",
         row=4, column="sop_instance_uid", uid=SOPS[0], rows=_two_rows_same),
    Case("series_in_two_studies", "one series under two studies", M, CSV,
         "two different study_instance_uid", "same study_instance_uid", row=3,
         column="study_instance_uid", uid=SERIES,
         rows=edit(3, study_instance_uid=uid("bad", "elsewhere"))),
    Case("missing_required_column", "no patient_id column", M, PQ, "required column",
         "add the column", column="patient_id", fmt="parquet", rows=_drop_column("patient_id")),
    Case("series_number_text", "series_number written as a word", M, PQ, "whole number",
         "write series_number", row=3, column="series_number", fmt="parquet",
         rows=_series_number_as_text),
    Case("required_value_empty", "a row without patient_id", M, CSV, "empty",
         "every row needs a patient_id", row=2, column="patient_id", rows=edit(2, patient_id="")),
    Case("fingerprint_malformed", "an md5 where a v1 fingerprint belongs", M, CSV,
         "not a v1 fingerprint", "64 lowercase hex", row=1, column="fingerprint",
         rows=edit(1, fingerprint="md5:0cc175b9c0f1b6a831c399e269772661")),
    Case("accession_over_vr_limit", "a 17-character accession number (SH allows 16): archived "
         "as sent and reported", "", CSV, row=2, reported="accession_number",
         rows=edit(2, accession_number="ACC-0123456789-XY")),
    Case("study_description_70_chars", "a 70-character Study Description (LO allows 64): "
         "archived as sent and reported", "", PQ, row=3, reported="study_description",
         fmt="parquet", rows=edit(3, study_description="CT THORAX ABDOMEN PELVIS WITH "
                                  "CONTRAST, ARTERIAL AND PORTAL VENOUS PHA")),
    Case("accession_over_ten_times_vr_limit", "a 161-character accession number: ten times "
         "SH's 16 is more than any PACS means", M, CSV, "longer than 160", "a report pasted",
         row=1, column="accession_number", rows=edit(1, accession_number="A" * 161)),
    Case("value_10mb", "a 10 MB study description (built at test time)", M, CSV,
         "longer than 640", "a report pasted", row=2, column="study_description",
         build="value_10mb"),
    Case("object_uri_dotdot", "object_uri climbing out with ../", M, CSV, "escapes the drop",
         "relative to the drop", row=2, column="object_uri",
         rows=edit(2, object_uri="objects/../../north/objects/x.dcm")),
    Case("object_uri_absolute", "an absolute object_uri", M, CSV, "escapes the drop",
         "relative to the drop", row=3, column="object_uri",
         rows=edit(3, object_uri="/etc/passwd")),
    Case("object_symlink_out", "objects/<sop>.dcm is a symlink to a file outside the drop",
         OBJ, f"objects/{SOPS[1]}.dcm", "outside the drop", "keep objects inside",
         row=2, uid=SOPS[1], build="object_symlink_out"),
    Case("objects_folder_symlink_out", "the objects/ folder is a symlink out of the drop", OBJ,
         f"objects/{SOPS[0]}.dcm", "outside the drop", "keep objects inside", row=1, uid=SOPS[0],
         build="objects_folder_symlink_out"),
    Case("object_uri_missing", "a new object without object_uri", OBJ, "", "no object_uri",
         "send the object", row=3, uid=SOPS[2], rows=edit(3, object_uri=None)),
    Case("object_file_missing", "object_uri names a file the drop lacks", OBJ,
         f"objects/{SOPS[1]}.dcm", "missing from the drop", "", row=2, uid=SOPS[1],
         after=_missing_object),
    Case("object_not_dicom", "a text file where a DICOM object belongs", OBJ,
         f"objects/{SOPS[1]}.dcm", "not a DICOM", "Resend the object", row=2, uid=SOPS[1],
         after=_not_dicom),
    Case("object_truncated", "a DICOM object cut short", OBJ, f"objects/{SOPS[1]}.dcm",
         "truncated", "Resend the object", row=2, uid=SOPS[1], after=_truncated_object),
    Case("fingerprint_mismatch", "an object whose bytes do not match its fingerprint", OBJ,
         f"objects/{SOPS[2]}.dcm", "fingerprint", "Rebuild the manifest", row=3, uid=SOPS[2],
         rows=edit(3, fingerprint=FP_OTHER)),
    Case("object_of_another_patient", "a row whose object_uri names another patient's object "
         "(fingerprint empty)", OBJ, "objects/other-patient.dcm", "SOPInstanceUID",
         "Rebuild the manifest", row=2, uid=SOPS[1],
         rows=edit(2, object_uri="objects/other-patient.dcm", fingerprint=None),
         after=_rewrite(f"{SOPS[2]}.dcm", "other-patient.dcm", PatientID="BAD-0002",
                        StudyInstanceUID=uid("bad", "other-patient-study"),
                        SeriesInstanceUID=uid("bad", "other-patient-series"),
                        SOPInstanceUID=uid("bad", "other-patient-sop"))),
    Case("object_rewritten_after_build", "an object whose SOP UID and PatientID were "
         "rewritten after the manifest was built", OBJ, f"objects/{SOPS[1]}.dcm",
         "SOPInstanceUID, PatientID", "Rebuild the manifest", row=2, uid=SOPS[1],
         after=_rewrite(f"{SOPS[1]}.dcm", f"{SOPS[1]}.dcm", PatientID="BAD-0002",
                        SOPInstanceUID=uid("bad", "rewritten-sop"))),
    Case("patient_id_integer", "a Parquet manifest whose patient_id column is an integer "
         "(00123 became 123)", M, PQ, "not text", "keep their leading zeros",
         column="patient_id", fmt="parquet", rows=_patient_id_as_number),
    Case("meta_generated_in_future", "manifest.json stamped in 2099", M, J, "in the future",
         "set the spoke's clock", column="generated_at",
         meta=set_meta(generated_at="2099-01-01T00:00:00Z")),
    Case("meta_other_spoke", "manifest.json says the drop is south's", M, J, "'south'",
         "spoke it came from", column="spoke", meta=set_meta(spoke="south")),
    Case("unknown_spoke", "a drop reconciled for a spoke the hub does not know",
         "ConfigInvalid", "", "unknown spoke", "spokesync spoke add", spoke="nowhere"),
    Case("meta_missing", "no manifest.json", M, J, "missing", "write manifest.json",
         meta=lambda meta: None),
    Case("meta_not_json", "manifest.json is not JSON", M, J, "JSON", "write a JSON object",
         after=lambda f: (f / J).write_text("spoke: north\n")),
    Case("meta_no_time_zone", "generated_at without a time zone", M, J, "no time zone",
         "end it with Z", column="generated_at",
         meta=set_meta(generated_at="2026-11-27T23:00:00")),
    Case("meta_format_2", "an unknown manifest format", M, J, "format", "manifest format 1",
         column="format", meta=set_meta(format=2)),
    Case("meta_fingerprint_v2", "an unknown fingerprint version", M, J, "'v2'",
         "fingerprint v1", column="fingerprint", meta=set_meta(fingerprint="v2")),
    Case("stale_manifest", "a manifest older than the last one applied for north", M, J,
         "older than", "apply in order", column="generated_at",
         meta=set_meta(generated_at="2025-06-01T00:00:00Z")),
    Case("empty_manifest", "a manifest with a header and no rows", "", CSV,
         rows=lambda rows: []),
    Case("deletion_of_unknown_study", "a deletion of a study the hub never archived", "", DEL,
         rows=lambda rows: [],
         deletions=[{"level": "study", "uid": uid("bad", "never-sent"), "reason_code": "113039",
                     "reason_text": "wrong patient"}]),
    Case("deletions_bad_level", "a deletion at patient level", M, DEL, "'patient'",
         "study, series or instance", row=1, column="level",
         deletions=[{"level": "patient", "uid": STUDY, "reason_code": "113039",
                     "reason_text": "wrong patient"}]),
    Case("deletions_bad_uid", "a deletion of a malformed UID", M, DEL, "not a valid DICOM UID",
         UID_FIX, row=1, column="uid", uid="1.2.3.x",
         deletions=[{"level": "study", "uid": "1.2.3.x", "reason_code": "113039",
                     "reason_text": "wrong patient"}]),
    Case("deletions_null_uid", "a deletion row without a uid", M, DEL, "not a valid DICOM UID",
         UID_FIX, row=2, column="uid",
         deletions=[{"level": "study", "uid": uid("bad", "never-sent"), "reason_code": "113039"},
                    {"level": "study", "uid": None, "reason_code": "113039"}]),
    Case("deletions_truncated", "deletions.parquet cut short in transfer", M, DEL,
         "not a readable Parquet", "write the file again",
         deletions=[{"level": "study", "uid": STUDY, "reason_code": "113039"}],
         after=truncate(DEL, 300)),
    Case("deletions_no_uid_column", "deletions.parquet without its uid column", M, DEL,
         "'uid' is missing", "level, uid", column="uid",
         deletions=[{"level": "study", "reason_code": "113039"}]),
    Case("tar_member_dotdot", "a nearline TAR whose member would extract to ../../",
         "NearlineCorrupt", "series.tar", "unsafe TAR member name", "spokesync verify",
         run="scan_tar",
         after=evil_tar("../../escape.dcm")),
    Case("tar_member_absolute", "a nearline TAR whose member has an absolute path",
         "NearlineCorrupt", "series.tar", "unsafe TAR member name", "spokesync verify",
         run="scan_tar",
         after=evil_tar("/tmp/escape.dcm")),
    Case("tar_member_symlink", "a nearline TAR whose member is a symlink out of the volume",
         "NearlineCorrupt", "series.tar", "not a regular file", "spokesync verify",
         run="scan_tar", after=evil_tar("1.2.3.dcm", link="/etc/passwd")),
)  # fmt: skip
