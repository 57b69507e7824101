"""Report tables exported from the catalog, typed, so every run's Parquet files share one schema.

The export runs once per run under the writer lock; analysts never open the catalog: they read
the Parquet files through the views of `catalog.report_views`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb
import pyarrow as pa

from spokesync.catalog import queries
from spokesync.catalog.report_names import TABLES

TS = pa.timestamp("us", tz="UTC")
UIDS = pa.list_(pa.string())
_REPORTED = [("report_run_id", pa.string()), ("reported_at", TS)]
_RECORD = [("seq", pa.int64()), ("run_id", pa.string()), ("spoke_id", pa.string())]


def _schema(*fields: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema([*_REPORTED, *fields])


SCHEMAS: dict[str, pa.Schema] = {
    "runs": _schema(
        ("run_id", pa.string()), ("spoke_id", pa.string()), ("status", pa.string()),
        ("started_at", TS), ("finished_at", TS), ("duration_seconds", pa.float64()),
        ("manifest_generated_at", TS), ("manifest_rows", pa.int64()),
        ("instances_archived", pa.int64()), ("bytes_archived", pa.int64()),
        ("tars_written", pa.int64()), ("cc_records", pa.int64()),
    ),
    "changes": _schema(
        *_RECORD, ("kind", pa.string()), ("status", pa.string()), ("created_at", TS),
        ("decided_at", TS), ("decided_by", pa.string()), ("reason", pa.string()),
        ("refers_to", pa.int64()), ("source_study_uids", UIDS), ("target_study_uids", UIDS),
        ("source_count", pa.int64()), ("target_count", pa.int64()),
        ("instance_count", pa.int64()), ("attribute_names", UIDS), ("attributes", pa.string()),
        ("source_patient_ids", UIDS), ("target_patient_ids", UIDS),
        ("patient_changed", pa.bool_()), ("evidence", pa.string()),
    ),
    "pending_review": _schema(
        *_RECORD, ("kind", pa.string()), ("created_at", TS), ("source_study_uids", UIDS),
        ("target_study_uids", UIDS), ("instance_count", pa.int64()),
        ("attribute_names", UIDS), ("age_hours", pa.float64()),
    ),
    "ownership": _schema(
        *_RECORD, ("kind", pa.string()), ("status", pa.string()), ("created_at", TS),
        ("study_instance_uid", pa.string()), ("role", pa.string()),
        ("owner_spoke", pa.string()), ("policy", pa.string()),
    ),
    "stale_copies": _schema(
        ("run_id", pa.string()), ("spoke_id", pa.string()), ("study_instance_uid", pa.string()),
        ("owner_spoke", pa.string()), ("difference", pa.string()), ("since", TS),
        ("detected_at", TS),
    ),
    "nearline": _schema(
        ("run_id", pa.string()), ("spoke_id", pa.string()), ("volume", pa.string()),
        ("volume_name", pa.string()), ("day", pa.date32()), ("tars", pa.int64()),
        ("objects", pa.int64()), ("bytes", pa.int64()),
    ),
    "discrepancies": _schema(
        ("run_id", pa.string()), ("spoke_id", pa.string()), ("kind", pa.string()),
        ("row_id", pa.int64()), ("sop_instance_uid", pa.string()),
        ("sop_class_uid", pa.string()), ("series_instance_uid", pa.string()),
        ("study_instance_uid", pa.string()), ("reason", pa.string()), ("detected_at", TS),
    ),
    "data_quality": _schema(
        ("run_id", pa.string()), ("spoke_id", pa.string()), ("kind", pa.string()),
        ("file", pa.string()), ("row_id", pa.int64()), ("path", pa.string()),
        ("sop_instance_uid", pa.string()), ("study_instance_uid", pa.string()),
        ("column", pa.string()), ("problem", pa.string()), ("detected_at", TS),
    ),
}  # fmt: skip
if tuple(SCHEMAS) != TABLES:  # one list of names: catalog/report_names.py
    raise RuntimeError(f"report schemas {tuple(SCHEMAS)} differ from report names {TABLES}")
CATALOG_EXPORTS = ("runs", "changes", "pending_review", "ownership", "stale_copies", "nearline")


@dataclass(frozen=True)
class ExportWindow:
    """Which cc records a run's report carries besides its own (see docs/reports.md)."""

    after_seq: int = 0  # records newer than the last exported one (decisions, missed runs)
    decided_since: datetime | None = None  # records decided since the last report


def typed(name: str, table: pa.Table) -> pa.Table:
    """`table` in the report's fixed schema: same columns, same types, in every file."""
    schema = SCHEMAS[name]
    return table.select(schema.names).cast(schema)


def empty(name: str) -> pa.Table:
    return SCHEMAS[name].empty_table()


def export_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    *,
    reported_at: datetime,
    policy: str,
    window: ExportWindow,
) -> dict[str, pa.Table]:
    """Every report table the catalog holds for one run, typed (discrepancies and data_quality
    come from the run's work folder)."""
    params = {
        "run_id": run_id,
        "report_run_id": run_id,
        "reported_at": reported_at,
        "policy": policy,
        "after_seq": window.after_seq,
        "decided_since": window.decided_since or reported_at,
    }
    return {
        name: typed(name, queries.run(con, f"report_export_{name}", params).to_arrow_table())
        for name in CATALOG_EXPORTS
    }


def unreported_runs(con: duckdb.DuckDBPyConnection, reported: list[str]) -> list[str]:
    """Committed runs with no report yet, oldest first (a failed report write, new reports)."""
    rows = queries.run(con, "report_unreported_runs", {"reported": reported}).fetchall()
    return [row[0] for row in rows]
