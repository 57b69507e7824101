"""Typed queries for retrieval: which study a UID is now, its instances, values and UID map."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from spokesync.catalog import queries, review
from spokesync.catalog.errors import SpokesyncError

PATIENT_VALUES = ("patient_name", "patient_birth_date", "patient_sex")


class StudyNotRetrievable(SpokesyncError):
    """The UID names no study with active instances, or an old one that became several."""


@dataclass(frozen=True)
class StudyResolution:
    """The study a requested UID is now; `resolved` says the UID was an old one."""

    requested: str
    study_uid: str
    resolved: bool


@dataclass(frozen=True)
class StoredInstance:
    """One active catalog instance: its current identity and where its stored bytes are."""

    sop_instance_uid: str
    series_instance_uid: str
    study_instance_uid: str
    sop_class_uid: str
    instance_number: int | None
    volume: str
    tar_path: str
    member_name: str
    data_offset: int
    size: int
    sha256: str
    transfer_syntax_uid: str | None


def resolve_study(con: duckdb.DuckDBPyConnection, uid: str) -> StudyResolution:
    """Find the one current study for a current or old study UID (through the UID map).

    A UID that is still current wins over where some of its instances went (a split).
    """
    current, through_map = review.resolve_study(con, uid)
    if len(current) == 1:
        return StudyResolution(uid, current[0], resolved=through_map)
    if current:
        raise StudyNotRetrievable(
            f"study {uid} now lives on as {len(current)} studies ({', '.join(current)}); "
            "retrieve each of them by its current UID"
        )
    status, inactive = queries.run(con, "retrieve_study_status", {"uid": uid}).fetchone()
    if status == "unknown" and not inactive:
        raise StudyNotRetrievable(
            f"no study {uid} in the catalog, neither current nor old; check the UID "
            "(`spokesync changes list` shows where studies went)"
        )
    raise StudyNotRetrievable(
        f"study {uid} has no active instances (study status {status}, {inactive} instances "
        "deleted or rejected); nothing to retrieve"
    )


def study_values(con: duckdb.DuckDBPyConnection, study: str) -> dict:
    """The study's current patient and study values by manifest column name.

    Patient name, birth date and sex are left out when the catalog has no patient row.
    """
    rows = queries.dicts(con, "retrieve_study_values", {"study": study})
    if not rows:
        return {}
    values = rows[0]
    if not values.pop("patient_known"):
        for column in PATIENT_VALUES:
            values.pop(column)
    return values


def series_values(con: duckdb.DuckDBPyConnection, study: str) -> dict[str, dict]:
    """{series UID: its current series_number, modality and series_description}."""
    rows = queries.dicts(con, "retrieve_series_values", {"study": study})
    return {row.pop("series_instance_uid"): row for row in rows}


def active_instances(con: duckdb.DuckDBPyConnection, study: str) -> list[StoredInstance]:
    """The study's active instances in TAR and offset order (sequential reads)."""
    return [
        StoredInstance(**row) for row in queries.dicts(con, "retrieve_instances", {"study": study})
    ]


def skipped_instances(con: duckdb.DuckDBPyConnection, study: str) -> dict[str, int]:
    """How many instances of the study are left out, by status (deleted, rejected)."""
    return dict(queries.run(con, "retrieve_skipped", {"study": study}).fetchall())


def uid_map(con: duckdb.DuckDBPyConnection, study: str) -> list[tuple[str, str, str]]:
    """(old UID, current UID, study holding it) for every renamed object of the study's patient.

    Chains are followed to their end; every UID on the way, including the ones a spoke used
    between two runs, leads to the current one. Scoped to the patient's stored studies,
    because references stay within one patient's record.
    """
    return [tuple(row) for row in queries.run(con, "retrieve_uid_map", {"study": study}).fetchall()]
