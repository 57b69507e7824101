"""Data quality of a drop (DESIGN §2): what real spokes send that is off but archived anyway.

Values over their VR's length limit are archived as sent and named here, by row, SOP UID and
column, never by value (it may be a patient's name). Absurd values stay refused by
tasks/manifest/rules.py.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from spokesync.tasks.manifest.rules import COLUMN_VRS, max_length

# One data-quality finding on a manifest row (the value itself is never kept).
QUALITY_SCHEMA = pa.schema(
    [
        ("row_id", pa.int64()),
        ("sop_instance_uid", pa.string()),
        ("study_instance_uid", pa.string()),
        ("column", pa.string()),
        ("problem", pa.string()),
    ]
)


def quality_problem(column: str, value: str) -> str | None:
    """What is off about a value that is archived anyway (over its VR's limit), or None."""
    vr = COLUMN_VRS.get(column)
    if vr and len(value) > max_length(column):
        return (
            f"value is longer than {max_length(column)} characters ({vr} limit); archived as sent"
        )
    return None


def quality_findings(table: pa.Table) -> pa.Table:
    """The rows whose values break their VR's limit but are archived as sent (DESIGN §2).

    One row per (manifest row, column): its index in `table`, SOP and study UID, the column
    and what is off; never the value itself (it may be a patient's name).
    """
    found = []
    for column in COLUMN_VRS:
        values = table.column(column)
        over = pc.greater(pc.utf8_length(values), max_length(column))
        rows = pc.indices_nonzero(pc.fill_null(over, False))
        if len(rows) == 0:
            continue
        problem = quality_problem(column, "x" * (max_length(column) + 1))
        found.append(
            pa.table(
                {
                    "row_id": rows.cast(pa.int64()),
                    "sop_instance_uid": table.column("sop_instance_uid").take(rows),
                    "study_instance_uid": table.column("study_instance_uid").take(rows),
                    "column": pa.array([column] * len(rows), pa.string()),
                    "problem": pa.array([problem] * len(rows), pa.string()),
                }
            ).cast(QUALITY_SCHEMA)
        )
    return pa.concat_tables([QUALITY_SCHEMA.empty_table(), *found])


# What a run learns about its drop's data quality (work/<run>/data_quality.parquet), and what
# the `data_quality` report table carries per run: kinds are value_over_vr_limit,
# rejected_object, incomplete_study and incomplete_drop.
FINDINGS_SCHEMA = pa.schema(
    [
        ("kind", pa.string()),
        ("file", pa.string()),
        ("row_id", pa.int64()),
        ("path", pa.string()),
        ("sop_instance_uid", pa.string()),
        ("study_instance_uid", pa.string()),
        ("column", pa.string()),
        ("problem", pa.string()),
    ]
)
# rejected.parquet, as `spokesync manifest build` writes it: one row per object it could not
# use, with whatever identity could be read (DESIGN §2).
REJECTED_SCHEMA = pa.schema(
    [
        ("path", pa.string()),
        ("reason", pa.string()),
        ("sop_instance_uid", pa.string()),
        ("series_instance_uid", pa.string()),
        ("study_instance_uid", pa.string()),
        ("patient_id", pa.string()),
    ]
)
DROP_QUALITY_FILE = "quality.parquet"  # a drop's own findings (FINDINGS_SCHEMA), from its builder
INCOMPLETE_STUDY = "an object of this study could not be read: nothing in it is deleted tonight"
INCOMPLETE_DROP = (
    "an object that could not be read names no study: nothing in this drop is deleted tonight"
)


def row_findings(table: pa.Table, file: str, first_row_id: int = 0) -> pa.Table:
    """quality_findings as FINDINGS_SCHEMA rows of `file`, row ids counted from `first_row_id`."""
    found = quality_findings(table)
    return _findings(
        "value_over_vr_limit",
        file,
        len(found),
        row_id=pc.add(found.column("row_id"), first_row_id),
        sop_instance_uid=found.column("sop_instance_uid"),
        study_instance_uid=found.column("study_instance_uid"),
        column=found.column("column"),
        problem=found.column("problem"),
    )


def rejected_findings(rejected: pa.Table, file: str) -> pa.Table:
    """Each rejected object, each study it leaves incomplete, and a drop-wide finding when one
    names no study (`rejected` in REJECTED_SCHEMA, study UIDs already checked)."""
    studies = pc.unique(rejected.column("study_instance_uid").drop_null())
    parts = [
        _findings(
            "rejected_object",
            file,
            len(rejected),
            path=rejected.column("path"),
            sop_instance_uid=rejected.column("sop_instance_uid"),
            study_instance_uid=rejected.column("study_instance_uid"),
            problem=rejected.column("reason"),
        ),
        _findings(
            "incomplete_study",
            file,
            len(studies),
            study_instance_uid=studies,
            problem=pa.array([INCOMPLETE_STUDY] * len(studies), pa.string()),
        ),
    ]
    if rejected.column("study_instance_uid").null_count:
        parts.append(_findings("incomplete_drop", file, 1, problem=pa.array([INCOMPLETE_DROP])))
    return pa.concat_tables(parts)


def _findings(kind: str, file: str, count: int, **columns: pa.Array) -> pa.Table:
    """A FINDINGS_SCHEMA table of `count` rows: the given columns, the rest null."""
    arrays = {"kind": pa.array([kind] * count), "file": pa.array([file] * count)}
    for field in FINDINGS_SCHEMA:
        if field.name not in arrays:
            arrays[field.name] = columns.get(field.name, pa.nulls(count, field.type))
    return pa.table(arrays).cast(FINDINGS_SCHEMA)
