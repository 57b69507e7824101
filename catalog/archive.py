"""Recording a run's newly archived objects in the catalog, in one transaction with the run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb
import pyarrow as pa

from catalog import queries
from catalog.connection import transaction


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    spoke: str
    started_at: datetime
    generated_at: datetime | None
    drop_path: str
    manifest_rows: int


def new_manifest_rows(con: duckdb.DuckDBPyConnection, manifest: pa.Table) -> pa.Table:
    """The manifest rows whose SOP instance UID the catalog does not hold yet."""
    con.register("staged_manifest", manifest)
    try:
        return queries.run(con, "new_manifest_rows").to_arrow_table()
    finally:
        con.unregister("staged_manifest")


def record_archive(
    con: duckdb.DuckDBPyConnection,
    run: RunRecord,
    new_rows: pa.Table,
    stored: pa.Table,
    *,
    now: datetime,
    tars_written: int,
) -> int:
    """Insert patients, studies, series, objects, instances, cc records and the run; return records.

    `stored` has one row per archived member: sop_instance_uid, volume, tar_path, member_name,
    data_offset, size, sha256, fingerprint. Everything commits together or not at all.
    """
    con.register("staged_new", new_rows)
    con.register("staged_objects", stored)
    params = {"run_id": run.run_id, "spoke": run.spoke}
    try:
        with transaction(con):
            for step in (
                "insert_new_patients",
                "insert_new_studies",
                "insert_new_series",
                "insert_stored_objects",
                "insert_new_instances",
            ):
                queries.run(con, step, params)
            queries.run(con, "insert_new_object_records", params | {"now": now})
            queries.run(con, "insert_new_object_instances", params)
            records = _count_records(con, run.run_id)
            insert_run(
                con,
                run,
                now=now,
                status="committed",
                archived=len(stored),
                bytes_archived=_total(stored, "size"),
                tars=tars_written,
                records=records,
            )
    finally:
        con.unregister("staged_new")
        con.unregister("staged_objects")
    return records


def insert_run(
    con: duckdb.DuckDBPyConnection,
    run: RunRecord,
    *,
    now: datetime,
    status: str,
    archived: int = 0,
    bytes_archived: int = 0,
    tars: int = 0,
    records: int = 0,
) -> None:
    """The run's own row; callers put it in the same transaction as the run's changes."""
    queries.run(
        con,
        "insert_run",
        {
            "run_id": run.run_id,
            "spoke": run.spoke,
            "started_at": run.started_at,
            "now": now,
            "status": status,
            "generated_at": run.generated_at,
            "drop_path": run.drop_path,
            "manifest_rows": run.manifest_rows,
            "instances_archived": archived,
            "bytes_archived": bytes_archived,
            "tars_written": tars,
            "cc_records": records,
        },
    )


def _count_records(con: duckdb.DuckDBPyConnection, run_id: str) -> int:
    return queries.run(con, "count_run_records", {"run_id": run_id}).fetchone()[0]


def _total(table: pa.Table, column: str) -> int:
    return int(sum(table.column(column).to_pylist())) if len(table) else 0
