"""The plan of a run: the cc records it would create, as a table (pure; no I/O)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

PLAN_SCHEMA = pa.schema(
    [
        ("kind", pa.string()),
        ("status", pa.string()),
        ("source_study_uids", pa.list_(pa.string())),
        ("target_study_uids", pa.list_(pa.string())),
        ("instances", pa.int64()),
        ("series", pa.int64()),
        ("bytes", pa.int64()),
        ("attributes", pa.string()),
    ]
)


def new_object_plan(new_rows: pa.Table) -> pa.Table:
    """One NEW_OBJECTS record per study that gains objects."""
    if len(new_rows) == 0:
        return PLAN_SCHEMA.empty_table()
    sizes = pc.fill_null(new_rows.column("object_size"), 0)
    grouped = (
        new_rows.set_column(new_rows.schema.get_field_index("object_size"), "object_size", sizes)
        .group_by("study_instance_uid")
        .aggregate(
            [
                ("sop_instance_uid", "count"),
                ("series_instance_uid", "count_distinct"),
                ("object_size", "sum"),
            ]
        )
        .sort_by("study_instance_uid")
    )
    studies = grouped.column("study_instance_uid").to_pylist()
    n = len(grouped)
    return pa.table(
        {
            "kind": ["NEW_OBJECTS"] * n,
            "status": ["applied"] * n,
            "source_study_uids": [[] for _ in studies],
            "target_study_uids": [[s] for s in studies],
            "instances": grouped.column("sop_instance_uid_count"),
            "series": grouped.column("series_instance_uid_count_distinct"),
            "bytes": grouped.column("object_size_sum").cast(pa.int64()),
            "attributes": pa.nulls(n, pa.string()),
        },
        schema=PLAN_SCHEMA,
    )
