"""Typed queries about stored objects in nearline."""

from __future__ import annotations

import duckdb

from catalog import queries


def _dicts(cursor: duckdb.DuckDBPyConnection) -> list[dict]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def stored_members(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Every member the catalog expects in nearline, ordered by volume, TAR and offset."""
    return _dicts(queries.run(con, "stored_members"))


def spoke_summary(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Per spoke: studies, series, instances, TARs and bytes held in nearline."""
    return _dicts(queries.run(con, "spoke_summary"))
