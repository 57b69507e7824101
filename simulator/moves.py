"""Operations that move instances between studies: split, merge, segment, UID fix, ambiguous move.

The UID rules per convention are in docs/simulator.md: IMPAX keeps SOP instance UIDs on split,
segment and UID fix and renews them on merge; Orthanc (and dcm4chee) renews series and SOP
instance UIDs of every instance it touches. A moved instance always gets a new series UID,
except on an IMPAX UID fix, where the whole study keeps its series.
"""

from __future__ import annotations

from collections import defaultdict

from simulator.ops import Ambiguous, FixUid, Merge, OperationInvalid, Segment, Split
from simulator.state import DropState, Instance, select
from simulator.truth import APPLIED, PENDING, ExpectedRecord

MAX_ACCESSION = 16  # SH


def apply_split(state: DropState, op: Split) -> list[ExpectedRecord]:
    """Move the chosen instances to another patient's study; the source keeps the rest."""
    rows = state.require(op.study)
    moving = select(rows, op.sop_uids, op.series_uids, op.study)
    if len(moving) == len(rows):
        raise OperationInvalid(
            f"a split leaves part of study {op.study} in place; to move all of it use Merge "
            "(into an existing study) or FixUid (new study UID)"
        )
    patient = state.patient_values(op.to_patient)
    if patient["patient_id"] == rows[0].row["patient_id"]:
        raise OperationInvalid("a split moves images to another patient; use Segment for the same")
    target = _split_target(state, op, patient)
    renew_sop = op.convention == "orthanc"
    moved = {}
    for inst in moving:
        old = inst.sop
        moved[old] = [state.move(inst, target, renew_series=True, renew_sop=renew_sop).sop]
    target_uid = target["study_instance_uid"]
    return [ExpectedRecord("SPLIT", APPLIED, (op.study,), (target_uid,), None, moved)]


def _split_target(state: DropState, op: Split, patient: dict) -> dict:
    """Return the values of the split's target study: an existing one of the patient, or new."""
    if op.target_study is None:
        return {**state.new_study(state.study_values(op.study), "split"), **patient}
    values = state.study_values(op.target_study)
    if values["patient_id"] != patient["patient_id"] or op.target_study == op.study:
        raise OperationInvalid(
            f"target study {op.target_study} must be another study of to_patient"
        )
    return values


def apply_merge(state: DropState, op: Merge) -> list[ExpectedRecord]:
    """Move every instance of the sources into the target study; the sources are emptied."""
    studies = list(dict.fromkeys([*op.sources, *([op.target] if op.target else [])]))
    if len(studies) < 2:
        raise OperationInvalid("a merge combines at least two different studies")
    for study in studies:
        state.require(study)
    if op.target is not None:
        destination = state.study_values(op.target)
        emptied = [study for study in studies if study != op.target]
    else:  # a new study with the first source's patient and study attributes
        destination = state.new_study(state.study_values(op.sources[0]), "merge")
        emptied = studies
    moved = {}
    for study in emptied:  # every PACS gives merged instances new SOP instance UIDs
        for inst in state.rows_of(study):
            old = inst.sop
            moved[old] = [state.move(inst, destination, renew_series=True, renew_sop=True).sop]
    target = (destination["study_instance_uid"],)
    return [ExpectedRecord("MERGE", APPLIED, tuple(sorted(emptied)), target, None, moved)]


def apply_segment(state: DropState, op: Segment) -> list[ExpectedRecord]:
    """Spread a study over several studies of its patient; repeated instances are copied."""
    rows = state.require(op.study)
    _check_groups(op, rows)
    like = state.study_values(op.study)
    current = {inst.sop: inst for inst in rows}
    snapshot = {inst.sop: inst.clone() for inst in rows}  # duplicates copy the state before
    renew = op.convention == "orthanc"
    placed: dict[str, list[str]] = defaultdict(list)
    left, targets = set(), set()
    for index, group in enumerate(op.groups):
        keep = index == 0 and op.keep_first
        target = like if keep else state.new_study(like, f"segment-{index}")
        targets.add(target["study_instance_uid"])
        for sop in group:
            if placed[sop]:  # a duplicate: a new instance over the same pixel data
                copy = state.move(snapshot[sop], target, renew_series=True, renew_sop=True,
                                  copy=True)  # fmt: skip
                placed[sop].append(copy.sop)
            elif keep:
                placed[sop].append(sop)
            else:
                inst = state.move(current[sop], target, renew_series=True, renew_sop=renew)
                placed[sop].append(inst.sop)
                left.add(sop)
    moved = {sop: new for sop, new in placed.items() if sop in left or len(new) > 1}
    return [ExpectedRecord("SEGMENT", APPLIED, (op.study,), tuple(sorted(targets)), None, moved)]


def _check_groups(op: Segment, rows: list[Instance]) -> None:
    """Refuse groups that do not cover the study exactly (each instance at least once)."""
    sops = {inst.sop for inst in rows}
    named = [sop for group in op.groups for sop in group]
    if len(op.groups) < 2 or not all(op.groups):
        raise OperationInvalid("a segment needs at least two non-empty groups of SOP UIDs")
    if any(len(set(group)) != len(group) for group in op.groups):
        raise OperationInvalid("an instance appears twice in one segment group; list it once")
    if set(named) != sops:
        missing = sorted(sops - set(named)) or sorted(set(named) - sops)
        raise OperationInvalid(
            f"segment groups must hold every instance of study {op.study} and nothing else "
            f"({missing[0]} is missing or foreign); delete instances with Delete"
        )


def apply_fix_uid(state: DropState, op: FixUid) -> list[ExpectedRecord]:
    """Give the whole study a new study UID and accession number (matched to its order)."""
    rows = state.require(op.study)
    accession = op.new_accession_number
    if not accession or len(accession) > MAX_ACCESSION or "\\" in accession:
        raise OperationInvalid(f"an accession number is 1 to {MAX_ACCESSION} characters")
    before = rows[0].row.get("accession_number")
    if accession == before:
        raise OperationInvalid(f"study {op.study} has that accession number already")
    target = state.study_values(op.study)
    target.update(
        study_instance_uid=state.mint("study", op.study, "fix"), accession_number=accession
    )
    renew = op.convention == "orthanc"  # IMPAX changes the study UID only
    moved = {}
    for inst in rows:
        old = inst.sop
        moved[old] = [state.move(inst, target, renew_series=renew, renew_sop=renew).sop]
    new, attributes = (target["study_instance_uid"],), {"accession_number": (before, accession)}
    return [ExpectedRecord("UID_FIX", PENDING, (op.study,), new, attributes, moved)]


def twin_groups(rows: list[Instance]) -> list[list[Instance]]:
    """Return the groups of a study's instances that share one fingerprint (and SOP class)."""
    groups: dict[tuple[str, str], list[Instance]] = defaultdict(list)
    for inst in rows:
        if inst.row.get("fingerprint"):
            groups[(inst.row["fingerprint"], inst.row["sop_class_uid"])].append(inst)
    return [groups[key] for key in sorted(groups) if len(groups[key]) > 1]


def apply_ambiguous(state: DropState, op: Ambiguous) -> list[ExpectedRecord]:
    """Move a study's twins to a new study with new UIDs, so no pairing can tell them apart."""
    rows = state.require(op.study)
    groups = twin_groups(rows)
    if not groups:
        raise OperationInvalid(
            f"study {op.study} has no two instances with one fingerprint; add them with AddTwins "
            "in an earlier drop, so that the catalog holds both before they move"
        )
    for group in groups:
        numbers = {(i.row.get("series_number"), i.row.get("instance_number")) for i in group}
        if len(numbers) > 1:
            raise OperationInvalid("twins with different series/instance numbers are resolvable")
    if sum(len(group) for group in groups) == len(rows):
        raise OperationInvalid(f"study {op.study} must keep an instance besides its twins")
    target = state.new_study(state.study_values(op.study), "ambiguous")
    moved: dict[str, list[str]] = {}
    for group in groups:
        old = [inst.sop for inst in group]
        new = [state.move(i, target, renew_series=True, renew_sop=True).sop for i in group]
        moved.update({sop: sorted(new) for sop in old})  # any twin may be any new row
    new_study = (target["study_instance_uid"],)
    return [ExpectedRecord("AMBIGUOUS", PENDING, (op.study,), new_study, None, moved)]
