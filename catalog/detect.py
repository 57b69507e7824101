"""Running detection's set-based SQL (catalog/sql/detect.sql) on one connection.

The statements leave temp tables (man, cat_all, cat, pairs, dups, ambiguous, new_rows, gone) that
the later steps of the same plan read; only small study-level tables come back to Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from spokesync.catalog import queries, values
from spokesync.catalog.errors import ManifestInvalid

DELETION_SCHEMA = pa.schema(
    [
        ("level", pa.string()),
        ("uid", pa.string()),
        ("reason_code", pa.string()),
        ("reason_text", pa.string()),
        ("row_", pa.int64()),
    ]
)


@dataclass(frozen=True)
class Incomplete:
    """What a spoke could not export whole tonight (objects it holds but the hub could not
    read): nothing is deleted in these studies, nor anywhere when `placed` is false (an
    unreadable object whose study is unknown)."""

    studies: tuple[str, ...] = ()
    placed: bool = True


RANGE_GAP = 2048  # ids apart (one DuckDB vector) below which two ranges are read as one
PAIRING_STEPS = (
    "stage_manifest",
    "stage_candidates",
    "fetch_candidates",
    "find_stale_copies",
    "drop_stale_rows",
    "stage_scope",
    "stage_catalog_side",
    "pair_by_sop_uid",
    "stage_unpaired",
    "pair_by_fingerprint_alone",
    "pair_by_fingerprint_and_numbers",
    "pair_leftover_fingerprints",
    "find_ambiguous",
    "find_duplicates",
    "find_new_rows",
    "find_gone",
    "find_explicit_deletions",
)


def pair(
    con: duckdb.DuckDBPyConnection,
    manifest: pa.Table | Path,
    deletions: pa.Table | None,
    spoke: str = "",
    domain: str = "",
    deletions_file: str = "deletions.parquet",
    incomplete: Incomplete | None = None,
) -> None:
    """Scope, pair and sort every row and instance into pairs, copies, new, gone, ambiguous.

    A non-owner's stale copies (DESIGN §6) leave the manifest first: reported, never applied.
    """
    if isinstance(manifest, Path):  # the staged file, read by DuckDB (memory bounded)
        manifest = con.read_parquet(str(manifest))
    incomplete = incomplete or Incomplete()
    con.register("staged_manifest", manifest)
    con.register("staged_deletions", _deletions(deletions))
    con.register(
        "incomplete_studies", pa.table({"study": pa.array(incomplete.studies, pa.string())})
    )
    params = {"spoke": spoke, "domain": domain or spoke, "deletions_allowed": incomplete.placed}
    try:
        for step in PAIRING_STEPS:
            if step == "find_explicit_deletions" and deletions is None:
                continue  # nothing to look for
            if step == "fetch_candidates":
                fetch_candidates(con)
                continue
            queries.run_script(con, step, params)
            if step == "stage_manifest" and deletions is not None:
                _refuse_conflicting_deletions(con, deletions_file)
    finally:
        for name in ("staged_manifest", "staged_deletions", "incomplete_studies"):
            con.unregister(name)


def fetch_candidates(con: duckdb.DuckDBPyConnection) -> int:
    """Copy the candidate instances' rows range by range; return how many ranges were read.

    DuckDB probes no index for a join, but a constant range on instance_id skips every row group
    outside it: a night's studies are read without scanning the whole table.
    """
    ranges = queries.run(con, "candidate_ranges", {"gap": RANGE_GAP}).fetchall()
    queries.run(con, "create_candidates")
    if ranges:  # one prepared statement for every range
        con.executemany(queries.sql("fetch_candidates"), [{"lo": a, "hi": b} for a, b in ranges])
    queries.run(con, "keep_candidates")
    return len(ranges)


def _refuse_conflicting_deletions(con: duckdb.DuckDBPyConnection, file: str) -> None:
    found = queries.run(con, "deletion_conflicts").fetchone()
    if found is not None:
        row, level, uid, problem = found
        raise ManifestInvalid(
            file,
            f"{level} {uid}: {problem}",
            row=row,
            column="uid",
            fix="name each UID at its own level (study, series or instance), and delete only "
            "what the manifest no longer lists",
        )


def _deletions(deletions: pa.Table | None) -> pa.Table:
    if deletions is None:
        return DELETION_SCHEMA.empty_table()
    columns = {
        name: (
            deletions.column(name).cast(pa.string())
            if name in deletions.column_names
            else pa.nulls(len(deletions), pa.string())
        )
        for name in DELETION_SCHEMA.names
        if name != "row_"
    }
    columns["row_"] = pa.array(range(1, len(deletions) + 1), pa.int64())
    return pa.table(columns, schema=DELETION_SCHEMA)


def rows(con: duckdb.DuckDBPyConnection, name: str, params: dict | None = None) -> list[dict]:
    """A small named query's result as dicts (study-level facts, never instance lists)."""
    return queries.dicts(con, name, params)


def study_facts(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Per study in scope or in the manifest: known to the catalog? reported? what stays?"""
    return rows(con, "study_facts")


def move_edges(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Catalog study → manifest study, for instances (and copies) that changed study."""
    return rows(con, "move_edges")


def renamed_in_place(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Studies whose instances stayed but got new SOP or series UIDs."""
    return rows(con, "renamed_in_place")


def gone_by_study(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Deleted instances per study and reason, with the spokes that own them, for DELETE records."""
    return rows(con, "gone_by_study")


def new_by_study(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """New objects per study, for NEW_OBJECTS records."""
    return rows(con, "new_by_study")


def ambiguous_groups(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Each ambiguous fingerprint with the studies it touches on both sides."""
    return rows(con, "ambiguous_groups")


def stale_found(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """The stale copies this run found, for the report table."""
    return rows(con, "stale_found")


def counts_for_guard(con: duckdb.DuckDBPyConnection) -> dict:
    """Instances the plan deletes, and instances in scope, for the mass-deletion guard."""
    return rows(con, "counts_for_guard")[0]


def attribute_changes(
    con: duckdb.DuckDBPyConnection, study_pairs: list[tuple[str, str]]
) -> tuple[list[dict], list[dict]]:
    """Patient/study changes for each (catalog study, manifest study) pair; series changes.

    Compared object by object (catalog/sql/values.sql): a paired instance's current value
    against its own manifest row, so objects of one study that disagree are no change.
    Leaves `value_diffs` (one row per changed value of a paired instance) for `value_changes`.
    """
    table = pa.table(
        {"source": [s for s, _ in study_pairs], "target": [t for _, t in study_pairs]},
        schema=pa.schema([("source", pa.string()), ("target", pa.string())]),
    )
    con.register("study_pairs", table)
    try:
        values.stage_value_diffs(con)
    finally:
        con.unregister("study_pairs")
    return rows(con, "study_value_changes"), rows(con, "series_value_changes")


def value_changes(con: duckdb.DuckDBPyConnection, pair_recs: pa.Table, series_recs: pa.Table):
    """Each changed value of each instance with the planned record that carries it."""
    con.register("pair_recs", pair_recs)
    con.register("series_recs", series_recs)
    try:
        return queries.run(con, "plan_values").to_arrow_table()
    finally:
        con.unregister("pair_recs")
        con.unregister("series_recs")


def members(
    con: duckdb.DuckDBPyConnection,
    edge_records: pa.Table,
    study_records: pa.Table,
    ambiguous_records: pa.Table,
) -> pa.Table:
    """Every instance-level member of every planned record, as one table."""
    con.register("edge_records", edge_records)
    con.register("study_records", study_records)
    con.register("ambiguous_records", ambiguous_records)
    try:
        return queries.run(con, "plan_members").to_arrow_table()
    finally:
        for name in ("edge_records", "study_records", "ambiguous_records"):
            con.unregister(name)


def known_finding(
    con: duckdb.DuckDBPyConnection, kind: str | None, sources: tuple, targets: tuple
) -> bool:
    """A pending record with the same studies (and kind, if given) exists: not a new finding."""
    params = {"kind": kind, "sources": list(sources), "targets": list(targets)}
    return queries.run(con, "find_pending_twin", params).fetchone() is not None
