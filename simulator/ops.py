"""The spoke operations the simulator applies, as plain data so tests and Hypothesis can drive them.

Each operation names its studies and instances by their *current* UIDs (after the earlier
operations of the same sequence); docs/simulator.md lists what each one does under each UID
convention and which cc record a detector should report for it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal, get_args

Convention = Literal["impax", "orthanc"]
Level = Literal["patient", "study", "series"]
# correctable manifest column -> the level it belongs to
CORRECTABLE = {
    "patient_name": "patient",
    "patient_id": "patient",
    "study_id": "study",
    "study_description": "study",
    "series_description": "series",
}
# IOCM rejection reasons (PS3.16 CID 7011) a whole-study deletion may carry
REJECTION_REASONS = {
    "113001": "Rejected for Quality Reasons",
    "113037": "Rejected for Patient Safety Reasons",
    "113038": "Incorrect Modality Worklist Entry",
    "113039": "Data Retention Policy Expired",
}


class OperationInvalid(ValueError):
    """An operation cannot be applied to the drop as it is; the message says what to change."""


@dataclass(frozen=True)
class PatientRef:
    """A patient by ID: an existing one of the drop (its recorded values win) or a new fake one."""

    patient_id: str
    name: str | None = None
    birth_date: str | None = None
    sex: str | None = None
    issuer: str | None = None


class _Op:
    """Shared checks: sequences become tuples, conventions are known values."""

    def __post_init__(self) -> None:
        for item in fields(self):  # type: ignore[arg-type]
            value = getattr(self, item.name)
            if isinstance(value, list):
                object.__setattr__(self, item.name, _tuples(value))
        convention = getattr(self, "convention", "impax")
        if convention not in get_args(Convention):
            raise OperationInvalid(f"convention {convention!r}: use 'impax' or 'orthanc'")


def _tuples(value: list) -> tuple:
    return tuple(_tuples(v) if isinstance(v, list) else v for v in value)


@dataclass(frozen=True)
class Split(_Op):
    """Move some instances (or whole series) of `study` to another patient's study (SPLIT)."""

    study: str
    to_patient: PatientRef
    sop_uids: tuple[str, ...] = ()
    series_uids: tuple[str, ...] = ()
    target_study: str | None = None  # an existing study of to_patient; None = a new study
    convention: Convention = "impax"


@dataclass(frozen=True)
class Merge(_Op):
    """Combine studies into `target` (one of them, another existing study, or new) (MERGE)."""

    sources: tuple[str, ...]
    target: str | None = None
    convention: Convention = "impax"


@dataclass(frozen=True)
class Segment(_Op):
    """Spread `study` over several studies of its patient; an instance may be in several groups."""

    study: str
    groups: tuple[tuple[str, ...], ...]
    keep_first: bool = True  # the first group stays in `study` under its UID; else it vanishes
    convention: Convention = "impax"


@dataclass(frozen=True)
class Correct(_Op):
    """Correct one attribute of a patient (by ID), a study or a series (ATTRIBUTES)."""

    level: Level
    uid_or_patient_id: str
    attribute: str
    new_value: str
    convention: Convention = "impax"

    def __post_init__(self) -> None:
        super().__post_init__()
        if CORRECTABLE.get(self.attribute) != self.level:
            choices = ", ".join(f"{a} ({lvl})" for a, lvl in CORRECTABLE.items())
            raise OperationInvalid(
                f"cannot correct {self.attribute!r} at {self.level} level; choose one of {choices}"
            )


@dataclass(frozen=True)
class Delete(_Op):
    """Remove instances or series of `study` from the manifest; the study stays (DELETE)."""

    study: str
    sop_uids: tuple[str, ...] = ()
    series_uids: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeleteStudy(_Op):
    """Delete a whole study: its rows go and deletions.parquet names it (DELETE)."""

    study: str
    reason_code: str = "113001"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.reason_code not in REJECTION_REASONS:
            raise OperationInvalid(
                f"reason code {self.reason_code!r}: use {list(REJECTION_REASONS)}"
            )


@dataclass(frozen=True)
class FixUid(_Op):
    """Match a study to its order: new study UID and accession number (UID_FIX, pending review)."""

    study: str
    new_accession_number: str
    convention: Convention = "impax"


@dataclass(frozen=True)
class AddObject(_Op):
    """Add a presentation state (PR) or a secondary capture (SC) in a new series (NEW_OBJECTS)."""

    study: str
    kind: Literal["PR", "SC"] = "PR"
    convention: Convention = "impax"


@dataclass(frozen=True)
class AddTwins(_Op):
    """Add two secondary captures identical but for their SOP UIDs (NEW_OBJECTS); see Ambiguous."""

    study: str


@dataclass(frozen=True)
class NewStudy(_Op):
    """Create a study of secondary captures for an existing or a new patient (NEW_OBJECTS)."""

    patient: PatientRef
    n_images: int = 3
    convention: Convention = "impax"


@dataclass(frozen=True)
class Ambiguous(_Op):
    """Move a study's twins (see AddTwins) to a new study with new UIDs (AMBIGUOUS, pending)."""

    study: str


Operation = (
    Split
    | Merge
    | Segment
    | Correct
    | Delete
    | DeleteStudy
    | FixUid
    | AddObject
    | AddTwins
    | NewStudy
    | Ambiguous
)
