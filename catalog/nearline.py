"""Typed queries about stored objects in nearline."""

from __future__ import annotations

import duckdb

from spokesync.catalog import queries


def stored_members(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Every member the catalog expects in nearline, ordered by volume, TAR and offset, with the
    spoke that sent it (`spoke_id`) and when its run committed (`archived_at`)."""
    return queries.dicts(con, "stored_members")


def tar_instances(con: duckdb.DuckDBPyConnection, volume: str, tar_path: str) -> list[dict]:
    """Per member of one TAR: the current study, series and SOP UIDs of the instances over it."""
    return queries.dicts(con, "tar_instances", {"volume": volume, "tar_path": tar_path})


def spoke_summary(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Per spoke: studies, series, instances, TARs and bytes held in nearline."""
    return queries.dicts(con, "spoke_summary")
