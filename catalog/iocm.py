"""Deleted instances for IHE IOCM rejection notes."""

from __future__ import annotations

from datetime import datetime

import duckdb

from spokesync.catalog import queries


def deleted_instances(con: duckdb.DuckDBPyConnection, since: datetime | None) -> list[dict]:
    """Every instance an applied (and not reverted) DELETE removed since `since`."""
    return queries.dicts(con, "deleted_instances_since", {"since": since})
