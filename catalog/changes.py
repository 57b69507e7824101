"""Typed queries over the change log."""

from __future__ import annotations

import json
from datetime import datetime

import duckdb

from spokesync.catalog import queries


def list_changes(
    con: duckdb.DuckDBPyConnection, *, spoke: str | None = None, since: datetime | None = None
) -> list[dict]:
    """cc records in sequence order, attributes and evidence decoded from JSON; a pending record
    a person decided has status approved or rejected and `decided_in` (the decision's seq)."""
    records = queries.dicts(con, "list_changes", {"spoke": spoke, "since": since})
    for record in records:
        record["attributes"] = json.loads(record["attributes"]) if record["attributes"] else {}
        record["evidence"] = json.loads(record["evidence"]) if record["evidence"] else {}
    return records
