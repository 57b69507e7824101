"""The manifest contract's checks (DESIGN §2) on an in-memory table: pure, vectorised, no I/O."""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

from spokesync.catalog.errors import ManifestInvalid
from spokesync.tasks.manifest.schema import (
    INT_COLUMNS,
    MANIFEST_SCHEMA,
    REQUIRED_COLUMNS,
    UID_COLUMNS,
)

UID_PATTERN = r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$"
FINGERPRINT_PATTERN = r"^(px1|ds1):[0-9a-f]{64}$"
MAX_UID_LENGTH = 64
MAX_VALUE_LENGTH = 1024  # columns without a DICOM VR (object_uri)
ABSURD_FACTOR = 10  # a value this many times its VR's limit is refused, not reported
MAX_TEXT_BYTES = 64 * 1024  # nor is text longer than 64 KiB
# The DICOM VR length limits (PS3.5 §6.2) of the attributes a manifest carries; PN allows 64
# characters per component group and three groups (alphabetic=ideographic=phonetic).
VR_LIMITS = {"AS": 4, "CS": 16, "DA": 8, "LO": 64, "PN": 3 * 64 + 2, "SH": 16, "TM": 16}
COLUMN_VRS = {
    "patient_id": "LO",
    "issuer_of_patient_id": "LO",
    "patient_name": "PN",
    "patient_birth_date": "DA",
    "patient_sex": "CS",
    "accession_number": "SH",
    "study_id": "SH",
    "study_date": "DA",
    "study_time": "TM",
    "study_description": "LO",
    "referring_physician_name": "PN",
    "study_status": "CS",
    "modality": "CS",
    "series_description": "LO",
}
# C0 control characters no manifest value may hold: TAB, LF, FF, CR and ESC (ISO 2022) may.
CONTROL_PATTERN = r"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f]"
UID_FIX = "write UIDs as dot-separated numbers without leading zeros, at most 64 characters"
# Identifier columns must arrive as text: a number type has already lost leading zeros (00123).
IDENTIFIER_COLUMNS = (*UID_COLUMNS, "patient_id", "issuer_of_patient_id", "accession_number",
                      "study_id")  # fmt: skip
IDENTIFIER_FIX = "identifiers are text and keep their leading zeros; write the column as string"


def conform(table: pa.Table, file: str) -> pa.Table:
    """Check required columns, cast known ones to the schema; unknown columns are dropped."""
    missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
    if missing:
        raise ManifestInvalid(
            file,
            f"required column(s) missing: {', '.join(missing)}",
            column=missing[0],
            fix="add the column (a null fingerprint is allowed)",
        )
    columns = []
    for field in MANIFEST_SCHEMA:
        if field.name not in table.column_names:
            columns.append(pa.nulls(len(table), field.type))
            continue
        columns.append(_cast(table.column(field.name), field, file))
    return pa.Table.from_arrays(columns, schema=MANIFEST_SCHEMA)


def _cast(column: pa.ChunkedArray, field: pa.Field, file: str) -> pa.ChunkedArray:
    if column.type == field.type:
        return column
    if field.name in IDENTIFIER_COLUMNS and not _texty(column.type):
        raise ManifestInvalid(
            file,
            f"the column is of type {column.type}, not text",
            column=field.name,
            fix=IDENTIFIER_FIX,
        )
    if field.name in INT_COLUMNS and pa.types.is_string(column.type):
        column = pc.if_else(pc.equal(pc.utf8_trim_whitespace(column), ""), None, column)
    try:
        return column.cast(field.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        row = _first_uncastable(column, field.type)
        if pa.types.is_binary(column.type) and field.name not in INT_COLUMNS:
            raise ManifestInvalid(
                file,
                "value is not valid UTF-8 text",
                row=row,
                column=field.name,
                fix="write the manifest in UTF-8",
            ) from None
        wanted = "a whole number" if field.name in INT_COLUMNS else "text"
        raise ManifestInvalid(
            file,
            f"value {_show(column, row)} is not {wanted}",
            row=row,
            column=field.name,
            fix=f"write {field.name} as {wanted}",
        ) from None


def _texty(kind: pa.DataType) -> bool:
    """Text (or bytes that conform names as not UTF-8), or a column of nulls only."""
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
        or pa.types.is_null(kind)
    )


def _first_uncastable(column: pa.ChunkedArray, target: pa.DataType) -> int | None:
    for index, value in enumerate(column.to_pylist()):  # only reached on error, to name the row
        try:
            pa.array([value]).cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return index + 1
    return None


def _show(column: pa.ChunkedArray, row: int | None) -> str:
    if row is None:
        return "?"
    return repr(str(column[row - 1].as_py())[:80])


def check(table: pa.Table, file: str) -> None:
    """Raise ManifestInvalid for the first broken rule, naming its row (1 = first data row)."""
    check_rows(table, file)
    check_groups(table, file)


def check_rows(table: pa.Table, file: str) -> None:
    """The rules each row keeps on its own: a part of a manifest can be checked alone."""
    _check_present(table, file)
    _check_uids(table, file)
    _check_fingerprints(table, file)
    _check_text(table, file)


def check_groups(table: pa.Table, file: str) -> None:
    """The rules across rows: one row per SOP instance, one study per series, one patient per
    study. Only the UID columns and patient_id are read."""
    _check_unique_sops(table, file)
    _check_one_parent(table, file, "series_instance_uid", "study_instance_uid", "series")
    _check_one_parent(table, file, "study_instance_uid", "patient_id", "study")


def first_row(mask: pa.ChunkedArray | pa.Array) -> int | None:
    index = pc.index(pc.fill_null(mask, False), True).as_py()
    return None if index < 0 else index + 1


def _check_present(table: pa.Table, file: str) -> None:
    for name in REQUIRED_COLUMNS:
        if name == "fingerprint":
            continue
        column = table.column(name)
        row = first_row(pc.or_(pc.is_null(column), pc.equal(pc.utf8_trim_whitespace(column), "")))
        if row is not None:
            raise ManifestInvalid(
                file, "value is empty", row=row, column=name, fix=f"every row needs a {name}"
            )


def _check_uids(table: pa.Table, file: str) -> None:
    for name in UID_COLUMNS:
        column = table.column(name)
        bad = pc.or_(
            pc.invert(pc.match_substring_regex(column, UID_PATTERN)),
            pc.greater(pc.utf8_length(column), MAX_UID_LENGTH),
        )
        row = first_row(bad)
        if row is not None:
            raise ManifestInvalid(
                file,
                f"{_show(column, row)} is not a valid DICOM UID",
                row=row,
                column=name,
                fix=UID_FIX,
            )


def _check_fingerprints(table: pa.Table, file: str) -> None:
    column = table.column("fingerprint")
    row = first_row(pc.invert(pc.match_substring_regex(column, FINGERPRINT_PATTERN)))
    if row is not None:
        raise ManifestInvalid(
            file,
            f"{_show(column, row)} is not a v1 fingerprint",
            row=row,
            column="fingerprint",
            fix="write 'px1:' or 'ds1:' and 64 lowercase hex digits, or leave it "
            "empty (see docs/fingerprints.md)",
        )


def max_length(column: str) -> int:
    """The longest value a column should hold: its DICOM VR's limit, else MAX_VALUE_LENGTH."""
    vr = COLUMN_VRS.get(column)
    return VR_LIMITS[vr] if vr else MAX_VALUE_LENGTH


def refused_length(column: str) -> int:
    """The longest value a column may hold at all: past it no PACS could mean the value.

    Real PACS send values over their VR's limit (a 70-character Study Description), which are
    archived and reported; ten times the limit, or more than 64 KiB, is refused.
    """
    if column not in COLUMN_VRS:
        return MAX_VALUE_LENGTH
    return min(ABSURD_FACTOR * max_length(column), MAX_TEXT_BYTES)


def value_problem(column: str, value: str) -> str | None:
    """Why one text value is refused (absurdly long, a control character), or None."""
    if len(value) > refused_length(column):
        vr = COLUMN_VRS.get(column, "text")
        limit = f"{ABSURD_FACTOR} times its {vr} limit" if vr != "text" else "the limit"
        return f"value is longer than {refused_length(column)} characters ({limit})"
    if re.search(CONTROL_PATTERN, value):
        return "value holds a control character (NUL or another C0 code)"
    return None


def _check_text(table: pa.Table, file: str) -> None:
    for field in MANIFEST_SCHEMA:
        if not pa.types.is_string(field.type) or field.name in UID_COLUMNS:
            continue
        column = table.column(field.name)
        bad = pc.or_(
            pc.greater(pc.utf8_length(column), refused_length(field.name)),
            pc.match_substring_regex(column, CONTROL_PATTERN),
        )
        row = first_row(bad)
        if row is not None:
            raise ManifestInvalid(
                file,
                value_problem(field.name, column[row - 1].as_py()) or "value is malformed",
                row=row,
                column=field.name,
                fix="send the attribute as the object holds it, without control characters; "
                "a value this long is not one a PACS keeps (a report pasted into it?)",
            )


def _check_unique_sops(table: pa.Table, file: str) -> None:
    counts = table.group_by("sop_instance_uid").aggregate(
        [("sop_instance_uid", "count"), ("study_instance_uid", "count_distinct")]
    )
    dup = counts.filter(pc.greater(counts.column("sop_instance_uid_count"), 1))
    if len(dup) == 0:
        return
    uid = dup.column("sop_instance_uid")[0].as_py()
    rows = _rows_of(table, "sop_instance_uid", uid)
    if dup.column("study_instance_uid_count_distinct")[0].as_py() > 1:
        problem = f"SOP instance {uid} is listed in two studies (rows {rows[0]} and {rows[1]})"
        fix = "an instance belongs to exactly one study; list it once, under its current study"
    else:
        problem = f"SOP instance {uid} is listed twice (rows {rows[0]} and {rows[1]})"
        fix = "list each SOP instance once"
    raise ManifestInvalid(file, problem, row=rows[1], column="sop_instance_uid", fix=fix)


def _check_one_parent(table: pa.Table, file: str, child: str, parent: str, level: str) -> None:
    counts = table.group_by(child).aggregate([(parent, "count_distinct")])
    bad = counts.filter(pc.greater(counts.column(f"{parent}_count_distinct"), 1))
    if len(bad) == 0:
        return
    uid = bad.column(child)[0].as_py()
    rows = _rows_of(table, child, uid)
    values = table.column(parent).take(pa.array([r - 1 for r in rows])).to_pylist()
    other = next(i for i, v in enumerate(values) if v != values[0])
    raise ManifestInvalid(
        file,
        f"{level} {uid} has two different {parent} values (rows {rows[0]} and {rows[other]})",
        row=rows[other],
        column=parent,
        fix=f"every row of one {level} must carry the same {parent}",
    )


def _rows_of(table: pa.Table, column: str, value: str) -> list[int]:
    mask = pc.equal(table.column(column), value)
    return [i + 1 for i in pc.indices_nonzero(pc.fill_null(mask, False)).to_pylist()]
