"""Review decisions on pending records, and resolving old study UIDs (DESIGN §4 rule 5, §5)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from spokesync.catalog import queries, values
from spokesync.catalog.connection import transaction
from spokesync.catalog.errors import ReviewRefused
from spokesync.catalog.vocabulary import DECIDABLE, Kind, Status


def open_reviews(con: duckdb.DuckDBPyConnection) -> list[dict]:
    return queries.dicts(con, "open_reviews")


def record(con: duckdb.DuckDBPyConnection, seq: int) -> dict:
    """One record with its members; ReviewRefused names a sequence number that does not exist."""
    rows = queries.dicts(con, "record_by_seq", {"seq": seq})
    if not rows:
        raise ReviewRefused(f"there is no cc record {seq}; `spokesync review list` shows the queue")
    found = rows[0]
    for key in ("attributes", "evidence"):
        found[key] = json.loads(found[key]) if found[key] else {}
    found["members"] = queries.dicts(con, "record_members", {"seq": seq})
    return found


def decision_of(con: duckdb.DuckDBPyConnection, seq: int) -> dict | None:
    """The decision record that refers to pending record `seq`, if a person decided it."""
    rows = queries.dicts(con, "decision_for", {"seq": seq})
    return rows[0] if rows else None


def latest_committed_run(con: duckdb.DuckDBPyConnection) -> str | None:
    """The newest committed run, whose report a decision refreshes (None: no run yet)."""
    row = queries.run(con, "latest_committed_run").fetchone()
    return row[0] if row else None


def _decidable(con: duckdb.DuckDBPyConnection, seq: int) -> dict:
    found = record(con, seq)
    if found["status"] != Status.PENDING_REVIEW:
        raise ReviewRefused(f"record {seq} is {found['status']}, not waiting for review")
    d = decision_of(con, seq)
    if d is not None:
        raise ReviewRefused(
            f"record {seq} was already decided: {d['status']} by "
            f"{d['decided_by']} at {d['decided_at']:%Y-%m-%d %H:%M} (record "
            f"{d['seq']}); a decision cannot be taken twice"
        )
    return found


@dataclass(frozen=True)
class Decision:
    seq: int  # the new record
    moved: int  # instances re-identified by an approval


def reject(con: duckdb.DuckDBPyConnection, seq: int, *, by: str, reason: str) -> Decision:
    """Record the rejection; nothing in the catalog moves."""
    _decidable(con, seq)
    with transaction(con):
        decision = _insert_decision(con, seq, Status.REJECTED, by, reason, {"decision": "reject"})
    return Decision(decision, 0)


def approve(
    con: duckdb.DuckDBPyConnection,
    seq: int,
    *,
    by: str,
    reason: str = "",
    pairing: list[tuple[str, str]] | None = None,
) -> Decision:
    """Apply a pending UID fix (or an ambiguous pairing a person decided) as a move, or a
    non-owner's deletion held for review as a soft deletion."""
    found = _decidable(con, seq)
    if found["kind"] not in DECIDABLE:
        raise ReviewRefused(
            f'record {seq} is {found["kind"]} held by ownership = "enforce"; '
            'approve it by reconciling its spoke with ownership = "warn"'
        )
    if found["kind"] == Kind.AMBIGUOUS and not pairing:
        raise ReviewRefused(
            f"record {seq} is ambiguous: approve it with --pairing FILE "
            "(CSV old_sop_uid,new_sop_uid; `review show` lists both sides)"
        )
    with transaction(con):
        decision = _insert_decision(con, seq, Status.APPLIED, by, reason, {"decision": "approve"})
        if found["kind"] == Kind.DELETE:  # a non-owner's deletion, held for review
            params = {"seq": seq, "decision": decision, "run_id": f"review:{seq}"}
            queries.run_script(con, "apply_decided_deletion", params)
            return Decision(decision, 0)
        moved = _move(con, found, decision, pairing)
    return Decision(decision, moved)


def _insert_decision(con, seq: int, status: str, by: str, reason: str, evidence: dict) -> int:
    params = {
        "seq": seq,
        "status": status,
        "now": datetime.now(UTC),
        "by": by,
        "reason": reason or None,
        "evidence": json.dumps(evidence),
    }
    return queries.run(con, "insert_decision", params).fetchone()[0]


def _move(con, found: dict, decision: int, pairing: list[tuple[str, str]] | None) -> int:
    params = {"seq": found["seq"], "decision": decision, "run_id": f"review:{found['seq']}"}
    if pairing:
        _check_pairing(found, pairing)
        con.register(
            "pairing",
            pa.table(
                {"old_sop_uid": [p[0] for p in pairing], "new_sop_uid": [p[1] for p in pairing]}
            ),
        )
        queries.run_script(con, "decided_moves_from_pairing", params)
    else:
        queries.run_script(con, "decided_moves_from_record", params)
    queries.run_script(con, "apply_decided_moves", params)
    moved = con.execute("select count(*) from decided").fetchone()[0]
    values.settle_from_record(con, params | {"spoke": found["spoke"]})  # the values it carried
    queries.run_script(con, "insert_decided_values", params)
    return moved


def _check_pairing(found: dict, pairing: list[tuple[str, str]]) -> None:
    """Every catalog instance once, every manifest row once, both of this record."""
    olds = {m["old_sop_uid"] for m in found["members"] if m["instance_id"] is not None}
    news = {m["new_sop_uid"] for m in found["members"] if m["instance_id"] is None}
    left, right = [p[0] for p in pairing], [p[1] for p in pairing]
    if sorted(left) != sorted(olds) or sorted(right) != sorted(news):
        raise ReviewRefused(
            f"the pairing must name each of {sorted(olds)} once on the left and "
            f"each of {sorted(news)} once on the right"
        )


def resolve_study(con: duckdb.DuckDBPyConnection, uid: str) -> tuple[list[str], bool]:
    """The current study UID(s) for a current or old UID, and whether the UID map was used."""
    current, frontier, seen = [], [uid], set()
    while frontier:
        here = frontier.pop()
        if here in seen:
            continue
        seen.add(here)
        status = queries.run(con, "study_status", {"uid": here}).fetchone()
        if status and status[0] == "active":
            current.append(here)
            continue
        frontier += [r[0] for r in queries.run(con, "study_successors", {"uid": here}).fetchall()]
    return sorted(current), current != [uid]
