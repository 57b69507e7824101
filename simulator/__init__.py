"""The spoke simulator: apply PACS operations to a drop and say what a detector must find.

One module that tests, the demo and the benchmarks share. `apply_operations` reads a drop,
applies operations the way IMPAX or Orthanc would, writes a new drop (objects rewritten where
the PACS rewrites them, deterministic UIDs) with ground_truth.json, and never touches the input.
See docs/simulator.md for the UID rules and for what keeps the ground truth exact.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from simulator.edits import apply_correct, apply_delete, apply_delete_study
from simulator.moves import (
    apply_ambiguous,
    apply_fix_uid,
    apply_merge,
    apply_segment,
    apply_split,
)
from simulator.objects import apply_add_object, apply_add_twins, apply_new_study
from simulator.ops import (
    AddObject,
    AddTwins,
    Ambiguous,
    Correct,
    Delete,
    DeleteStudy,
    FixUid,
    Merge,
    NewStudy,
    Operation,
    OperationInvalid,
    PatientRef,
    Segment,
    Split,
)
from simulator.randomized import random_operations
from simulator.recipes import (
    delete_last_series,
    fix_uid,
    merge_studies,
    segment_in_two,
    split_half,
)
from simulator.state import DropState
from simulator.truth import ExpectedRecord, GroundTruth
from simulator.views import (
    instances_of,
    manifest_of,
    patient_ids,
    series_of,
    studies_of_patient,
    study_uids,
)
from simulator.write import check_target, new_generated_at, write_result
from spokesync.tasks.manifest.build import utc_stamp

__all__ = [
    "AddObject", "AddTwins", "Ambiguous", "Correct", "Delete", "DeleteStudy", "ExpectedRecord",
    "FixUid", "GroundTruth", "Merge", "NewStudy", "Operation", "OperationInvalid", "PatientRef",
    "Segment", "Split", "apply_operations", "delete_last_series", "fix_uid", "instances_of",
    "make_ambiguous", "manifest_of", "merge_studies", "patient_ids", "random_operations",
    "segment_in_two", "series_of", "split_half", "studies_of_patient", "study_uids",
]  # fmt: skip

Handler = Callable[[DropState, Operation], list[ExpectedRecord]]
HANDLERS: dict[type, Handler] = {
    Split: apply_split,
    Merge: apply_merge,
    Segment: apply_segment,
    Correct: apply_correct,
    Delete: apply_delete,
    DeleteStudy: apply_delete_study,
    FixUid: apply_fix_uid,
    AddObject: apply_add_object,
    AddTwins: apply_add_twins,
    NewStudy: apply_new_study,
    Ambiguous: apply_ambiguous,
}


def apply_operations(
    drop: Path,
    ops: Sequence[Operation],
    out: Path,
    *,
    seed: str = "sim",
    allow_overlap: bool = False,
    generated_at: datetime | None = None,
) -> GroundTruth:
    """Apply `ops` in order to the drop at `drop` and write the result as a new drop at `out`.

    Each operation sees the result of the previous ones. By default no operation may involve a
    study an earlier one changed or created, so the records are exactly what a detector that
    compares the input and the output must report; `allow_overlap` lifts that (records then
    describe each operation on its own). The new manifest's generated_at is `generated_at`, by
    default the input's plus one second. Same input, operations and seed: same bytes.
    """
    drop, out = Path(drop).resolve(), Path(out).resolve()
    check_target(drop, out)
    state = DropState(drop, seed)
    moment = new_generated_at(state, generated_at)
    records: list[ExpectedRecord] = []
    touched: set[str] = set()
    for index, op in enumerate(ops):
        records.extend(_apply_one(state, op, index, touched, allow_overlap=allow_overlap))
    truth = GroundTruth(state.spoke, utc_stamp(moment), records)
    write_result(state, out, truth, moment)
    return truth


def _apply_one(state: DropState, op: Operation, index: int, touched: set[str], *,
               allow_overlap: bool) -> list[ExpectedRecord]:  # fmt: skip
    """Apply one operation, refusing overlaps and moves a detector could not pair."""
    name = f"operation {index} ({type(op).__name__})"
    handler = HANDLERS.get(type(op))
    if handler is None:
        raise OperationInvalid(f"{name}: not an operation the simulator knows")
    try:
        involved = involved_studies(state, op)
        clash = sorted(set(involved) & touched)
        if clash and not allow_overlap:
            raise OperationInvalid(
                f"study {clash[0]} was changed or created by an earlier operation; apply this "
                "one to the previous output instead, or pass allow_overlap=True"
            )
        fingerprints = {sop: inst.row.get("fingerprint") for sop, inst in state.instances.items()}
        records = handler(state, op)
        if not isinstance(op, Ambiguous):
            _refuse_renewed_twins(records, fingerprints)
    except OperationInvalid as exc:
        raise OperationInvalid(f"{name}: {exc}") from None
    state.finish_operation()
    touched.update(involved)
    for record in records:
        touched.update(record.source_study_uids, record.target_study_uids)
    return records


def involved_studies(state: DropState, op: Operation) -> list[str]:
    """Return the current studies an operation reads or changes (not the ones it creates)."""
    if isinstance(op, Split):
        return [op.study, *([op.target_study] if op.target_study else [])]
    if isinstance(op, Merge):
        return [*op.sources, *([op.target] if op.target else [])]
    if isinstance(op, Correct):
        if op.level == "patient":
            return state.studies_of_patient(op.uid_or_patient_id)
        if op.level == "series":
            found = (i.study for i in state.instances.values()
                     if i.row["series_instance_uid"] == op.uid_or_patient_id)  # fmt: skip
            return [next(found, op.uid_or_patient_id)]
        return [op.uid_or_patient_id]
    if isinstance(op, NewStudy):
        return []
    return [op.study]


def _refuse_renewed_twins(records: list[ExpectedRecord], fingerprints: dict) -> None:
    """Refuse renewing the SOP UIDs of two instances with one fingerprint (only Ambiguous may)."""
    seen: set[str] = set()
    for record in records:
        for old, new in sorted(record.moved.items()):
            fingerprint = fingerprints.get(old)
            if not new or old in new or not fingerprint:
                continue
            if fingerprint in seen:
                raise OperationInvalid(
                    f"instance {old} and another with the same fingerprint would get new SOP "
                    "UIDs, an ambiguous pairing; move twins with Ambiguous"
                )
            seen.add(fingerprint)


def make_ambiguous(drop: Path, before: Path, after: Path, study: str, *,
                   seed: str = "sim") -> tuple[GroundTruth, GroundTruth]:  # fmt: skip
    """Write the two drops of the DESIGN §4 ambiguous pairing: twins added, then twins moved.

    Reconcile `before` (NEW_OBJECTS: the catalog learns both twins), then `after` (AMBIGUOUS,
    pending review: two catalog instances and two new rows, one fingerprint, equal numbers).
    """
    first = apply_operations(drop, [AddTwins(study)], before, seed=seed)
    second = apply_operations(before, [Ambiguous(study)], after, seed=seed)
    return first, second
