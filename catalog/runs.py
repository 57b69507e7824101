"""Typed queries about runs."""

from __future__ import annotations

from datetime import datetime

import duckdb

from spokesync.catalog import queries


def last_generated_at(con: duckdb.DuckDBPyConnection, spoke: str) -> datetime | None:
    """generated_at of the newest committed manifest of `spoke`, if any."""
    row = queries.run(con, "last_run_of_spoke", {"spoke": spoke}).fetchone()
    return row[1] if row else None


def recorded_run_ids(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Every run with a row in the catalog; any other run never committed."""
    return {row[0] for row in queries.run(con, "recorded_run_ids").fetchall()}
