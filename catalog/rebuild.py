"""Writing a rebuilt catalog: each run found in nearline inserted as its archive inserted it."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from spokesync.catalog import queries, transaction, values
from spokesync.catalog.hub import record_identity

# The same blocks that catalogue a run's new objects (catalog/sql/archive.sql), in order.
INSERTS = (
    "insert_new_patients",
    "insert_new_studies",
    "insert_new_series",
    "insert_stored_objects",
    "insert_new_instances",
)
INT_COLUMNS = {"series_number", "instance_number"}


def rows_table(rows: list[dict], columns: tuple[str, ...]) -> pa.Table:
    """Manifest-shaped rows as an Arrow table: text, except the two integer columns."""
    schema = pa.schema([(c, pa.int32() if c in INT_COLUMNS else pa.string()) for c in columns])
    return pa.Table.from_pylist(rows, schema=schema)


def insert_run_objects(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    spoke: str,
    started_at: datetime,
    new: pa.Table,
    stored: pa.Table,
    tars: int,
) -> None:
    """Catalogue one run's objects and its run row in one transaction."""
    con.register("rebuilt_rows", new)
    con.register("staged_objects", stored)
    params = {"run_id": run_id, "spoke": spoke, "domain": spoke}  # a spoke's own ID domain
    try:
        with transaction(con):
            queries.run(con, "stage_rebuilt_rows", params)
            for name in INSERTS:
                queries.run(con, name, params)
            queries.run(con, "settle_source_of_run", params)
            values.settle(con, params)  # each object's own values, where a study disagrees
            run_row = {"started_at": started_at, "now": datetime.now(UTC), "status": "committed",
                       "generated_at": None, "drop_path": None, "manifest_rows": None,
                       "instances_archived": len(stored), "tars_written": tars, "cc_records": 0,
                       "bytes_archived": sum(stored.column("size").to_pylist())}  # fmt: skip
            queries.run(con, "insert_run", params | run_row)
    finally:
        con.unregister("rebuilt_rows")
        con.unregister("staged_objects")


def record_hub(con: duckdb.DuckDBPyConnection, hub: str, volumes: list[str]) -> None:
    """The rebuilt catalog indexes the hub the volumes' markers name."""
    record_identity(con, hub, new_hub=True, volumes=volumes, renames={})
