"""Operations that change studies in place: attribute corrections and deletions.

IMPAX corrects attributes in place and keeps every UID. Orthanc's `/studies/{id}/modify` (and
`/patients/{id}/modify`) writes a new study with new study, series and SOP instance UIDs and
deletes the original, so under that convention every affected study is re-identified.
"""

from __future__ import annotations

from simulator.ops import REJECTION_REASONS, Correct, Delete, DeleteStudy, OperationInvalid
from simulator.state import DropState, Instance, select
from simulator.truth import APPLIED, PENDING, ExpectedRecord

MAX_LENGTH = {  # the VR limits of the correctable attributes (LO, PN component, SH)
    "patient_name": 64,
    "patient_id": 64,
    "study_id": 16,
    "study_description": 64,
    "series_description": 64,
}


def apply_correct(state: DropState, op: Correct) -> list[ExpectedRecord]:
    """Set one attribute on every affected instance; one ATTRIBUTES record per study."""
    value = op.new_value
    if not value or len(value) > MAX_LENGTH[op.attribute] or "\\" in value:
        raise OperationInvalid(f"{op.attribute} takes 1 to {MAX_LENGTH[op.attribute]} characters")
    if op.attribute == "patient_id" and state.studies_of_patient(value):
        raise OperationInvalid("the new patient ID exists already; that would merge two patients")
    records = []
    for study, rows in _scope(state, op):
        old = rows[0].row.get(op.attribute)
        if all(inst.row.get(op.attribute) == value for inst in rows):
            continue
        for inst in rows:
            state.assign(inst, {op.attribute: value})
        target, moved, kind, status = study, {}, "ATTRIBUTES", APPLIED
        if op.convention == "orthanc":  # a re-identified study waits for review (DESIGN §4)
            target, moved = _reidentify(state, study)
            kind, status = "UID_FIX", PENDING
        attributes = {op.attribute: (old, value)}
        records.append(ExpectedRecord(kind, status, (study,), (target,), attributes, moved))
    if not records:
        raise OperationInvalid(
            f"{op.attribute} has the new value already; the correction changes nothing"
        )
    return records


def _scope(state: DropState, op: Correct) -> list[tuple[str, list[Instance]]]:
    """Return (study, instances to correct) for every study the correction touches."""
    key = op.uid_or_patient_id
    if op.level == "patient":
        studies = state.studies_of_patient(key)
        if not studies:
            raise OperationInvalid("no study of that patient ID is in the drop; use its current ID")
        return [(study, state.rows_of(study)) for study in studies]
    if op.level == "study":
        return [(key, state.require(key))]
    series = [i for i in state.instances.values() if i.row["series_instance_uid"] == key]
    if not series:
        raise OperationInvalid(f"series {key} is not in the drop; name it by its current UID")
    study = series[0].study
    return [(study, [i for i in state.rows_of(study) if i.row["series_instance_uid"] == key])]


def _reidentify(state: DropState, study: str) -> tuple[str, dict[str, list[str]]]:
    """Give a study new study, series and SOP instance UIDs, as an Orthanc modify does."""
    values = state.study_values(study)
    values["study_instance_uid"] = state.mint("study", study, "modify")
    moved = {}
    for inst in state.rows_of(study):
        old = inst.sop
        moved[old] = [state.move(inst, values, renew_series=True, renew_sop=True).sop]
    return values["study_instance_uid"], moved


def apply_delete(state: DropState, op: Delete) -> list[ExpectedRecord]:
    """Remove instances or series of a study from the manifest; the study must keep one."""
    rows = state.require(op.study)
    chosen = select(rows, op.sop_uids, op.series_uids, op.study)
    if len(chosen) == len(rows):
        raise OperationInvalid(
            f"deleting every instance of study {op.study} would only stop reporting it (DESIGN "
            "§2 scope rule); use DeleteStudy to delete it"
        )
    for inst in chosen:
        state.remove(inst)
    moved: dict[str, list[str]] = {inst.sop: [] for inst in chosen}
    return [ExpectedRecord("DELETE", APPLIED, (op.study,), (), None, moved)]


def apply_delete_study(state: DropState, op: DeleteStudy) -> list[ExpectedRecord]:
    """Drop a study's rows and name it in deletions.parquet with its rejection reason."""
    rows = state.require(op.study)
    for inst in rows:
        state.remove(inst)
    reason = REJECTION_REASONS[op.reason_code]
    state.deletions.append(
        {"level": "study", "uid": op.study, "reason_code": op.reason_code, "reason_text": reason}
    )
    moved: dict[str, list[str]] = {inst.sop: [] for inst in rows}
    return [ExpectedRecord("DELETE", APPLIED, (op.study,), (), None, moved)]
