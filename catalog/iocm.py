"""Deleted instances for IHE IOCM rejection notes."""

from __future__ import annotations

from datetime import datetime

import duckdb

from catalog import queries


def deleted_instances(con: duckdb.DuckDBPyConnection, since: datetime | None) -> list[dict]:
    """Every instance an applied (and not reverted) DELETE removed since `since`."""
    cursor = queries.run(con, "deleted_instances_since", {"since": since})
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
