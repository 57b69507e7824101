"""Building a run's plan: detection over the catalog, written as Parquet tables (DESIGN §4)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from spokesync.catalog import detect as sql_detect
from spokesync.catalog.vocabulary import Kind
from spokesync.tasks.reconcile import detect
from spokesync.tasks.reconcile.detect import Edge, Planned, RecordBook, StudyFact
from spokesync.tasks.reconcile.plan_values import attribute_table, value_table

RECORD_SCHEMA = pa.schema(
    [
        ("rec", pa.int64()),
        ("kind", pa.string()),
        ("status", pa.string()),
        ("source_study_uids", pa.list_(pa.string())),
        ("target_study_uids", pa.list_(pa.string())),
        ("instances", pa.int64()),
        ("attributes", pa.string()),
        ("evidence", pa.string()),
    ]
)
STALE_SCHEMA = pa.schema(
    [
        ("study", pa.string()),
        ("owner", pa.string()),
        ("difference", pa.string()),
        ("since", pa.timestamp("us", tz="UTC")),
    ]
)


@dataclass(frozen=True)
class Plan:
    records: pa.Table  # one row per cc record the run would create
    members: pa.Table  # one row per instance a record moves, copies, deletes, adds or holds
    attributes: pa.Table  # one row per changed attribute, for applying and for history
    deleting: int
    in_scope: int
    stale: pa.Table  # a non-owner's studies that show a replaced state (reported, not applied)
    values: pa.Table  # one row per changed value of a paired instance, with its record


def build_plan(
    con: duckdb.DuckDBPyConnection,
    manifest: pa.Table | Path,
    deletions: pa.Table | None,
    *,
    spoke: str = "",
    ownership: str = "warn",
    domain: str = "",
    deletions_file: str = "deletions.parquet",
    incomplete: sql_detect.Incomplete | None = None,
    reidentified_study: str = "review",
) -> Plan:
    """Pair the manifest with the catalog and decide every record, without changing anything."""
    sql_detect.pair(con, manifest, deletions, spoke, domain, deletions_file, incomplete)
    facts = {r["study"]: StudyFact(**r) for r in sql_detect.study_facts(con)}
    d = _decide(con, facts, spoke, ownership, reidentified_study)
    members = sql_detect.members(
        con, _edge_records(d.book), _study_records(d.book), _ambiguous_records(d.fingerprint_rec)
    )
    guard = sql_detect.counts_for_guard(con)
    return Plan(
        _records(d.book, members),
        members,
        attribute_table(d.book, d.study_changes, d.series_changes, d.reidentified),
        guard["deleting"],
        guard["in_scope"],
        pa.Table.from_pylist(sql_detect.stale_found(con), schema=STALE_SCHEMA),
        value_table(con, d.book),
    )


@dataclass
class _Decided:
    book: RecordBook
    study_changes: list[dict]
    series_changes: list[dict]
    reidentified: set[tuple[str, str]]
    fingerprint_rec: dict[str, int]


def _decide(
    con: duckdb.DuckDBPyConnection,
    facts: dict[str, StudyFact],
    spoke: str,
    ownership: str,
    reidentified_study: str,
) -> _Decided:
    """Every record of the run, in the order DESIGN §4 decides them (pure but for the reads)."""
    edges = [Edge(**r) for r in sql_detect.move_edges(con)]
    shapes = [detect.shape_of(g, facts) for g in detect.components(edges)]
    study_pairs = [(s, s) for s, f in facts.items() if f.in_catalog and f.reported]
    study_pairs += [(k[1][0], k[2][0]) for k in shapes if k[0] == detect.REIDENTIFY]
    study_changes, series_changes = sql_detect.attribute_changes(con, study_pairs)
    changes_of: dict[tuple[str, str], list[dict]] = {}
    for c in study_changes:
        changes_of.setdefault((c["source"], c["target"]), []).append(c)
    book = RecordBook()
    reidentified = set(detect.plan_moves(book, edges, facts, changes_of))
    if reidentified_study == "apply":  # the hub-wide policy applies UID fixes at once
        for record in book.records:
            if record.kind == Kind.UID_FIX:
                record.status = detect.APPLIED
    detect.plan_attributes(book, study_changes, series_changes, reidentified)
    _assign_renamed(book, sql_detect.renamed_in_place(con))
    detect.plan_deletions(book, sql_detect.gone_by_study(con), spoke)
    detect.plan_new(book, sql_detect.new_by_study(con))
    fingerprint_rec = detect.plan_ambiguous(book, sql_detect.ambiguous_groups(con))
    detect.apply_ownership(book, facts, spoke, ownership)
    book.records = [p for p in book.records if not _already_waiting(con, p)]
    return _Decided(book, study_changes, series_changes, reidentified, fingerprint_rec)


def _assign_renamed(book: RecordBook, renamed: list[dict]) -> None:
    """Instances re-identified inside their own study join that study's record."""
    for r in renamed:
        owner = next((p for p in book.records if r["study"] in p.sources and p.edges), None)
        owner = owner or next(
            (
                p
                for p in book.records
                if p.kind == Kind.ATTRIBUTES and p.sources == (r["study"],) and p.series is None
            ),
            None,
        )
        if owner is None:
            owner = book.add(
                Kind.ATTRIBUTES,
                (r["study"],),
                (r["study"],),
                evidence={"renamed_in_place": r["instances"]},
            )
        owner.role = "inplace"
        owner.evidence["renamed_in_place"] = r["instances"]


def _edge_records(book: RecordBook) -> pa.Table:
    pairs = [(e.source, e.target, p.rec) for p in book.records for e in p.edges]
    return pa.table(
        {
            "source": [p[0] for p in pairs],
            "target": [p[1] for p in pairs],
            "rec": pa.array([p[2] for p in pairs], pa.int64()),
        },
        schema=pa.schema([("source", pa.string()), ("target", pa.string()), ("rec", pa.int64())]),
    )


def _study_records(book: RecordBook) -> pa.Table:
    rows = [
        (s, p.role, p.reason_code, p.rec)
        for p in book.records
        if p.role
        for s in (p.targets if p.role == "new" else p.sources)
    ]
    return pa.table(
        {
            "study": [r[0] for r in rows],
            "role": [r[1] for r in rows],
            "reason_code": pa.array([r[2] for r in rows], pa.string()),
            "rec": pa.array([r[3] for r in rows], pa.int64()),
        }
    )


def _ambiguous_records(fingerprint_rec: dict[str, int]) -> pa.Table:
    return pa.table(
        {
            "fingerprint": pa.array(list(fingerprint_rec), pa.string()),
            "rec": pa.array(list(fingerprint_rec.values()), pa.int64()),
        }
    )


def _records(book: RecordBook, members: pa.Table) -> pa.Table:
    grouped = members.group_by("rec").aggregate([("rec", "count")])
    counts = dict(
        zip(grouped.column("rec").to_pylist(), grouped.column("rec_count").to_pylist(), strict=True)
    )
    return pa.Table.from_pylist(
        [_record_row(p, counts.get(p.rec, 0)) for p in book.records], schema=RECORD_SCHEMA
    )


def _record_row(p: Planned, instances: int) -> dict:
    return {
        "rec": p.rec,
        "kind": p.kind,
        "status": p.status,
        "source_study_uids": list(p.sources),
        "target_study_uids": list(p.targets),
        "instances": instances,
        "attributes": json.dumps(p.attributes, sort_keys=True) if p.attributes else None,
        "evidence": json.dumps(p.evidence, sort_keys=True),
    }


def _already_waiting(con: duckdb.DuckDBPyConnection, record: Planned) -> bool:
    """A finding that already waits for (or got) review is not planned again.

    A move between the same studies is the same finding whatever its kind now looks like: a
    later correction by another spoke must not turn a pending UID fix into an applied move.
    """
    if record.sources != record.targets and record.sources and record.targets:
        return sql_detect.known_finding(con, None, record.sources, record.targets)
    return record.status == detect.PENDING and sql_detect.known_finding(
        con, record.kind, record.sources, record.targets
    )
