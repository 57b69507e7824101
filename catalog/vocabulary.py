"""The change log's words: the kinds of cc record, their statuses, and which kinds wait for review.

Every module that names a kind or a status imports it from here (catalog, tasks and flows alike),
so this is the one place the review rule is written. The values are what the catalog stores in
`cc_records.kind` and `cc_records.status`; a `StrEnum` member equals its text, so SQL results and
Parquet columns compare with them directly.
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """What a cc record says happened to studies (DESIGN §4, README "What a run detects")."""

    SPLIT = "SPLIT"
    MERGE = "MERGE"
    SEGMENT = "SEGMENT"
    UID_FIX = "UID_FIX"
    AMBIGUOUS = "AMBIGUOUS"
    ATTRIBUTES = "ATTRIBUTES"
    DELETE = "DELETE"
    NEW_OBJECTS = "NEW_OBJECTS"
    REVERT = "REVERT"


class Status(StrEnum):
    """Where a cc record stands."""

    APPLIED = "applied"
    PENDING_REVIEW = "pending_review"
    REJECTED = "rejected"


# A study whose UID changed, or instances whose pairing is undecidable, always wait for a person.
ALWAYS_REVIEWED = frozenset({Kind.UID_FIX, Kind.AMBIGUOUS})
# What `spokesync review approve` can apply: the above, and a non-owner's deletion held for review.
DECIDABLE = ALWAYS_REVIEWED | {Kind.DELETE}
# A revert of a revert is a new change; an ambiguous record was never applied.
NOT_REVERTIBLE = frozenset({Kind.REVERT, Kind.AMBIGUOUS})


def initial_status(kind: str) -> Status:
    """The status a newly detected record of this kind starts with (before ownership holds it)."""
    return Status.PENDING_REVIEW if kind in ALWAYS_REVIEWED else Status.APPLIED
