"""Typed queries for the hub's Query/Retrieve SCP: C-FIND matches from the current values, and
which current studies a retrieve names (old study UIDs resolved through the UID map)."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from spokesync.catalog import queries, review, values

# C-FIND levels, in their hierarchy's order, and the block that answers each.
FIND_BLOCKS = {
    "PATIENT": "serve_find_patients",
    "STUDY": "serve_find_studies",
    "SERIES": "serve_find_series",
}


@dataclass(frozen=True)
class CurrentStudy:
    """A study UID a request named and the current study it is now (`resolved`: it was old)."""

    requested: str
    study_uid: str
    resolved: bool


def find(con: duckdb.DuckDBPyConnection, level: str, params: dict, limit: int) -> list[dict]:
    """Rows matching a C-FIND at `level` (PATIENT, STUDY, SERIES, IMAGE), at most `limit`.

    `params` holds a value for every key of the level's block: an RE2 pattern for text, a list
    for UIDs, `<column>_from`/`<column>_to` for dates and times, NULL for a key not given.
    """
    if level == "IMAGE":
        return _find_images(con, params, limit)
    return queries.dicts(con, FIND_BLOCKS[level], params | {"limit": limit})


def _find_images(con: duckdb.DuckDBPyConnection, params: dict, limit: int) -> list[dict]:
    """Stage the candidate instances, derive each one's current values, then match those."""
    queries.run(con, "serve_stage_images", params)
    values.stage_effective(con)
    return queries.dicts(con, "serve_find_images", params | {"limit": limit})


def current_studies(con: duckdb.DuckDBPyConnection, uids: list[str]) -> list[CurrentStudy]:
    """The current studies each UID names: itself, or where the UID map sent an old one (a
    split keeps its UID; a merge or UID fix leads to one study, a segment to several)."""
    found = []
    for uid in uids:
        current, through_map = review.resolve_study(con, uid)
        found.extend(CurrentStudy(uid, study, through_map) for study in current)
    return found


def patient_studies(con: duckdb.DuckDBPyConnection, patient_id: str) -> list[str]:
    """The active studies of the patients whose Patient ID matches the RE2 pattern."""
    rows = queries.run(con, "serve_patient_studies", {"patient_id": patient_id}).fetchall()
    return [row[0] for row in rows]
