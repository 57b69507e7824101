"""Typed queries about the hub's identity: its id, the volumes it knows by name, its runs."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb

from spokesync.catalog import queries, transaction


def hub_id(con: duckdb.DuckDBPyConnection) -> str | None:
    """The hub this catalog indexes; None for a fresh catalog or one from before markers."""
    row = queries.run(con, "hub_id").fetchone()
    return row[0] if row else None


def known_volumes(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The names of the volumes this catalog has written to or adopted."""
    return {row[0] for row in queries.run(con, "known_volumes").fetchall()}


def run_count(con: duckdb.DuckDBPyConnection) -> int:
    return queries.run(con, "run_count").fetchone()[0]


def run_is_recorded(con: duckdb.DuckDBPyConnection, run_id: str) -> bool:
    return queries.run(con, "run_is_recorded", {"run_id": run_id}).fetchone()[0] > 0


def stored_volume_values(con: duckdb.DuckDBPyConnection) -> list[str]:
    """What stored_objects.volume holds: names, or absolute paths in a catalog from before."""
    return [row[0] for row in queries.run(con, "stored_volume_values").fetchall()]


def record_identity(
    con: duckdb.DuckDBPyConnection,
    hub: str,
    *,
    new_hub: bool,
    volumes: list[str],
    renames: dict[str, str],
) -> None:
    """In one transaction: the hub's id (when new), the volumes by name, and stored objects
    that named a volume by absolute path renamed to its name."""
    now = datetime.now(UTC)
    with transaction(con):
        if new_hub:
            queries.run(con, "insert_hub", {"hub_id": hub, "now": now})
        for name in volumes:
            queries.run(con, "insert_volume", {"name": name, "hub_id": hub, "now": now})
        for old, name in renames.items():
            queries.run(con, "rename_stored_volume", {"old": old, "name": name})
