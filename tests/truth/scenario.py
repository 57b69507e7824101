"""The operations a spoke-truth sequence draws from, and the messy spoke it starts with."""

from __future__ import annotations

from functools import partial

from tests.truth import edits, moves
from tests.truth.moves import APPLIED, IDENTITY, Expected, pick_one
from tests.truth.spoke import FileSpoke, Series, values_of


def new_study(spoke: FileSpoke, pick: int) -> list[Expected] | None:
    """A new study of a patient the spoke holds, with the patient's values (or of a new
    patient with no sex and no birth date)."""
    held = spoke.held(everything=True)
    study_uid = pick_one(held, pick)
    first = held[study_uid][0][1] if study_uid else None
    identity = values_of(first, IDENTITY) if first else {"PatientID": f"NEW{pick}"}
    study = spoke.add_study(
        str(identity.pop("PatientID")), identity,
        {"AccessionNumber": f"N{spoke.minted}", "StudyDate": "20261201"}, [Series("CT", 1)],
    )  # fmt: skip
    return [("NEW_OBJECTS", APPLIED, (), (study,))]


OPERATIONS = {
    "split_keep_sops": partial(moves.split, renew=False),
    "split_reidentified": partial(moves.split, renew=True),
    "merge_keep_values": partial(moves.merge, keep_values=True),
    "merge_take_values": partial(moves.merge, keep_values=False),
    "segment_with_duplicate": moves.segment,
    "correct_patient": partial(edits.correct, level="patient"),
    "correct_study": partial(edits.correct, level="study"),
    "correct_series": partial(edits.correct, level="series"),
    "delete_instance": partial(edits.delete, what="instance"),
    "delete_series": partial(edits.delete, what="series"),
    "delete_pr": partial(edits.delete, what="PR"),
    "uid_fix_impax": partial(moves.uid_fix, orthanc=False),
    "uid_fix_orthanc": partial(moves.uid_fix, orthanc=True),
    "new_pr": partial(edits.new_object, kind="PR"),
    "new_sc": partial(edits.new_object, kind="SC"),
    "new_sr": partial(edits.new_object, kind="SR"),
    "new_study": new_study,
    "age_out": moves.age_out,
    "explicit_delete": edits.explicit_delete,
}


def messy_spoke(spoke: FileSpoke, *, messy: bool = True) -> list[Expected]:
    """Five studies of three patients, as real spokes hold them: series of one study that
    disagree on study date and description, a patient whose studies disagree on sex, absent
    sex and birth date, Latin-1 and UTF-8 names, no Issuer of Patient ID anywhere.

    `messy=False` leaves out the disagreements (to tell their failures from the others').
    """
    later = {"StudyDate": "20260102", "StudyDescription": "CT added"} if messy else {}
    other_sex = "O" if messy else "F"
    anna = {"PatientName": "Müller^Anna", "PatientSex": "F", "PatientBirthDate": "19700101"}
    hana = {"PatientName": "山田^花子", "PatientSex": None, "PatientBirthDate": None}
    carl = {"PatientName": "Smith^Carl", "PatientSex": "", "PatientBirthDate": "19501231"}
    base = {"StudyTime": "101010", "ReferringPhysicianName": "Ref^A", "StudyID": "1"}
    studies = [
        spoke.add_study("P1", anna, {**base, "AccessionNumber": "A1", "StudyDate": "20260101",
                                     "StudyDescription": "MR head"}, [
            Series("MR", 2), Series("CT", 2, later)]),
        spoke.add_study("P1", {**anna, "PatientSex": other_sex},
                        {**base, "AccessionNumber": "A2", "StudyDate": "20260201"},
                        [Series("CT", 2, {"SeriesDescription": "Axial"})]),
        spoke.add_study("P2", hana, {**base, "AccessionNumber": "B1", "StudyDate": "20260301",
                                     "StudyDescription": "頭部MRI"}, [Series("MR", 3)]),
        spoke.add_study("P2", hana, {**base, "AccessionNumber": "B2", "StudyDate": "20260302"},
                        [Series("MR", 1), Series("CT", 1)]),
        spoke.add_study("P3", carl, {**base, "AccessionNumber": "C1", "StudyDate": "20260401",
                                     "StudyDescription": ""}, [Series("CT", 2), Series("MR", 1)]),
    ]  # fmt: skip
    return [("NEW_OBJECTS", APPLIED, (), (s,)) for s in studies]
