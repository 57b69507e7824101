"""Reverting a change: a compensating record restores what the change altered (DESIGN §4 rule 6)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import duckdb

from spokesync.catalog import queries, values
from spokesync.catalog.connection import transaction
from spokesync.catalog.errors import ReviewRefused
from spokesync.catalog.vocabulary import NOT_REVERTIBLE, Status


def revert(con: duckdb.DuckDBPyConnection, seq: int, *, by: str, reason: str = "") -> int:
    """Undo record `seq`; refused, naming the record, when a later change depends on it."""
    found = queries.run(con, "record_by_seq", {"seq": seq}).fetchone()
    if found is None:
        raise ReviewRefused(f"there is no cc record {seq}; `spokesync changes list` shows them")
    kind, status = found[3], found[4]
    if status != Status.APPLIED or kind in NOT_REVERTIBLE:
        raise ReviewRefused(f"record {seq} ({kind}, {status}) changed nothing that can be reverted")
    done = queries.run(con, "already_reverted", {"seq": seq}).fetchone()
    if done:
        raise ReviewRefused(f"record {seq} was already reverted by record {done[0]}")
    later = queries.run(con, "later_dependents", {"seq": seq}).fetchall()
    if later:
        names = ", ".join(f"{s} ({k})" for s, k in later)
        raise ReviewRefused(
            f"record {seq} cannot be reverted: later change(s) {names} build on "
            "what it did; revert those first, newest first"
        )
    with transaction(con):
        return _compensate(con, seq, by, reason, spoke=found[2])


def _compensate(
    con: duckdb.DuckDBPyConnection, seq: int, by: str, reason: str, *, spoke: str
) -> int:
    run_id = f"revert:{seq}"
    attributes = {
        r[2]: [r[4], r[3]] for r in queries.run(con, "reverted_attributes", {"seq": seq}).fetchall()
    }
    revert_seq = queries.run(
        con,
        "insert_revert",
        {
            "seq": seq,
            "now": datetime.now(UTC),
            "by": by,
            "reason": reason or None,
            "attributes": json.dumps(attributes) if attributes else None,
            "evidence": json.dumps({"revert_of": seq}),
        },
    ).fetchone()[0]
    params = {"seq": seq, "revert": revert_seq, "run_id": run_id, "spoke": spoke}
    queries.run_script(con, "stage_revert", params)
    queries.run_script(con, "apply_revert", params)
    queries.run_script(con, "stage_revert_attributes", params)
    queries.run(con, "insert_reverted_history", params)
    values.settle_back(con, params)
    return revert_seq
