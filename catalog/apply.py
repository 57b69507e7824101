"""Applying a run's plan to the catalog: every change and the run's record in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from spokesync.catalog import queries, values
from spokesync.catalog.connection import transaction
from spokesync.catalog.faults import kill_point
from spokesync.catalog.vocabulary import Status

APPLY_STEPS = (
    "insert_new_patients",
    "insert_new_studies",
    "insert_new_series",
    "apply_series_moves",
    "apply_moves",
    "apply_copies",
    "apply_deletions",
    "insert_stored_objects",
    "insert_new_instances",
    "settle_values",
    "insert_cc_instances",
    "insert_uid_map",
    "insert_attribute_history",
    "insert_cc_values",
)


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    spoke: str
    started_at: datetime
    generated_at: datetime | None
    drop_path: str
    manifest_rows: int
    patient_domain: str = ""  # the spoke's patient-ID domain (DESIGN §2); "" means its id


@dataclass(frozen=True)
class PlanTables:
    """The plan as the plan step wrote it, plus the objects the archive step stored."""

    manifest: pa.Table | Path  # with row_id; a Parquet file is read by DuckDB, never loaded
    records: pa.Table
    members: pa.Table
    attributes: pa.Table
    stored: pa.Table
    stale: pa.Table
    values: pa.Table  # one row per changed value of a paired instance (plan_values)


def catalog_version(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """Runs and the newest cc seq: if either moved since planning, the plan is stale."""
    return tuple(queries.run(con, "catalog_version").fetchone())


def apply_plan(
    con: duckdb.DuckDBPyConnection,
    run: RunRecord,
    plan: PlanTables,
    *,
    now: datetime,
    tars_written: int,
    fail_after: str | None = None,
) -> int:
    """Apply every record of the plan and insert the run; return how many records were written.

    `fail_after` names a step after which to raise, to prove the transaction is atomic.
    """
    staged = _register_plan(con, plan)
    params = {"run_id": run.run_id, "spoke": run.spoke, "domain": run.patient_domain or run.spoke}
    try:
        queries.run_script(con, "stage_manifest", params)  # as detection read it
        with transaction(con):
            kill_point("transaction-begun")
            written = _insert_records(con, run, plan.records, now)
            kill_point("cc-records-inserted")
            _apply_steps(con, params, fail_after)
            queries.run(con, "insert_stale_copies", params | {"now": now})
            insert_run(
                con,
                run,
                now=now,
                status="committed",
                archived=len(plan.stored),
                bytes_archived=_total(plan.stored, "size"),
                tars=tars_written,
                records=written,
            )
            kill_point("before-commit")
    finally:
        for name in (*staged, "rec_seq"):
            con.unregister(name)
    return written


def _register_plan(con: duckdb.DuckDBPyConnection, plan: PlanTables) -> list[str]:
    """Register the plan's tables (and the staged manifest) under the names the SQL reads."""
    manifest = plan.manifest
    staged = {
        "staged_manifest": (
            con.read_parquet(str(manifest)) if isinstance(manifest, Path) else manifest
        ),
        "plan_records": plan.records,
        "plan_members": plan.members,
        "plan_attributes": plan.attributes,
        "staged_objects": plan.stored,
        "plan_stale": plan.stale,
        "plan_values": plan.values,
    }
    for name, table in staged.items():
        con.register(name, table)
    return list(staged)


def _apply_steps(con: duckdb.DuckDBPyConnection, params: dict, fail_after: str | None) -> None:
    """The applied records' changes to the catalog, step by step (APPLY_STEPS), in order."""
    queries.run_script(con, "stage_applied", params)
    for step in APPLY_STEPS:
        if step == "settle_values":
            values.settle_from_manifest(con, params)
        else:
            queries.run(con, step, params)
        if step == fail_after:
            raise RuntimeError(f"injected failure after {step}")
    queries.run_script(con, "close_emptied", params)


def _insert_records(
    con: duckdb.DuckDBPyConnection, run: RunRecord, records: pa.Table, now: datetime
) -> int:
    """Insert each planned record (a pending twin of an open finding is not repeated)."""
    mapping = []
    for r in records.to_pylist():
        params = {
            "kind": r["kind"],
            "sources": r["source_study_uids"],
            "targets": r["target_study_uids"],
        }
        if (
            r["status"] == Status.PENDING_REVIEW
            and queries.run(con, "find_pending_twin", params).fetchone()
        ):
            continue
        seq = queries.run(
            con,
            "insert_cc_record",
            params
            | {
                "run_id": run.run_id,
                "spoke": run.spoke,
                "status": r["status"],
                "now": now,
                "instances": r["instances"],
                "attributes": r["attributes"],
                "evidence": r["evidence"],
            },
        ).fetchone()[0]
        mapping.append({"rec": r["rec"], "seq": seq, "status": r["status"]})
    con.register(
        "rec_seq",
        pa.Table.from_pylist(
            mapping,
            schema=pa.schema([("rec", pa.int64()), ("seq", pa.int64()), ("status", pa.string())]),
        ),
    )
    return len(mapping)


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


def _total(table: pa.Table, column: str) -> int:
    return int(sum(table.column(column).to_pylist())) if len(table) else 0
