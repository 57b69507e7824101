"""Spoke operations that change studies in place: corrections, deletions and new objects.

Same contract as tests/truth/moves.py: (spoke, pick) -> expected cc records, or None.
"""

from __future__ import annotations

import hashlib
from copy import deepcopy

import numpy as np

from simulator.objects import presentation_state, secondary_capture
from tests.truth.compare import facts
from tests.truth.moves import APPLIED, IDENTITY, Expected, patient_of, pick_one
from tests.truth.objects import STUDY_KEYWORDS, report, set_values
from tests.truth.spoke import FileSpoke, series_of, values_of

# Values a PACS administrator types, in more than one character set; '' empties a value and
# None removes the attribute (DESIGN §2: both are "no value" in the manifest).
CORRECTIONS = {
    "patient": {
        "PatientName": ["Doe^Janet", "Müller^Jürgen", "Ødegård^Åse", "山田^花子", ""],
        "PatientSex": ["M", "F", "O", "", None],
        "PatientBirthDate": ["19600229", "", None],
        "IssuerOfPatientID": ["HOSP-A", None],
    },
    "study": {
        "StudyDescription": ["CT thorax", "Kopf MRT ünd Hals", "头部", "", None],
        "AccessionNumber": ["ACC777", ""],
        "StudyDate": ["20250505", None],
        "ReferringPhysicianName": ["Ref^Doc", "Ñandú^José", None],
    },
    "series": {"SeriesDescription": ["Axial T2", "Coronal ßß", "", None]},
}
REASONS = ("study", "STUDY", "Study")  # DESIGN §2: DICOM's spelling in any case is accepted


def correct(spoke: FileSpoke, pick: int, *, level: str) -> list[Expected] | None:
    """Correct one attribute in every object of a patient, a study or a series (IMPAX keeps
    every UID); one ATTRIBUTES record per study whose manifest values changed (DESIGN §4)."""
    held = spoke.held()
    keyword = pick_one(CORRECTIONS[level], pick)
    choices = CORRECTIONS[level][keyword]
    value = choices[(pick // 5) % len(choices)]
    scope = _scope(held, spoke, level, pick // 11)
    if scope is None:
        return None
    records = []
    for study, objs in sorted(scope.items()):
        before = [facts(ds) for _p, ds in objs]
        for path, ds in objs:
            set_values(ds, {keyword: value})
            spoke.rewrite(path, ds)
        if [facts(ds) for _p, ds in objs] != before:
            records.append(("ATTRIBUTES", APPLIED, (study,), (study,)))
    return records


def _scope(held, spoke: FileSpoke, level: str, pick: int) -> dict | None:
    """{study: objects to correct} for one patient (not one with a study aged out), study or
    series."""
    if level == "patient":  # every study of the patient, none changed tonight or aged out
        everything = spoke.held(everything=True)
        busy = {patient_of(o) for s, o in everything.items() if s not in held}
        patients = {patient_of(o) for o in held.values()} - spoke.frozen_patients - busy
        patient = pick_one(patients, pick)
        found = {s: o for s, o in held.items() if patient_of(o) == patient}
        return found or None
    study = pick_one(held, pick)
    if study is None:
        return None
    if level == "study":
        return {study: held[study]}
    series = list(series_of(held[study]).values())
    return {study: series[pick % len(series)]}


def delete(spoke: FileSpoke, pick: int, *, what: str) -> list[Expected] | None:
    """Delete an image, the last series, or a presentation state of a study that stays
    reported (DESIGN §4: an unpaired instance of a reported study is a DELETE)."""
    held = spoke.held()
    chosen = {}
    for study, objs in held.items():
        victims = _victims(objs, what)
        if victims and len(victims) < len(objs):
            chosen[study] = victims
    study = pick_one(chosen, pick)
    if study is None:
        return None
    for path, _ds in chosen[study]:
        spoke.delete(path)
    return [("DELETE", APPLIED, (study,), ())]


def _victims(objs, what: str) -> list:
    if what == "instance":
        return [o for o in objs if o[1].Modality in ("MR", "CT")][:1]
    if what == "series":
        return list(series_of(objs).values())[-1]
    return [o for o in objs if o[1].Modality == "PR"][:1]


def explicit_delete(spoke: FileSpoke, pick: int) -> list[Expected] | None:
    """The spoke deletes a whole study and says so in deletions.parquet (DESIGN §2)."""
    held = spoke.held()
    study = pick_one(held, pick)
    if study is None or len(held) < 2:
        return None
    for path, _ds in held[study]:
        spoke.delete(path)
    spoke.deletions.append({"level": REASONS[pick % len(REASONS)], "uid": study,
                            "reason_code": "113039", "reason_text": "wrong patient"})  # fmt: skip
    return [("DELETE", APPLIED, (study,), ())]


def new_object(spoke: FileSpoke, pick: int, *, kind: str) -> list[Expected] | None:
    """A workstation adds a presentation state, a secondary capture or a structured report to
    a study, in a new series, carrying the values of the study's first image."""
    held = spoke.held()
    study = pick_one([s for s, o in held.items() if _images(o)], pick)
    if study is None:
        return None
    images = _images(held[study])
    number = max(int(ds.SeriesNumber or 0) for _p, ds in held[study]) + 1
    series, sop = spoke.mint("series"), spoke.mint("sop")
    if kind == "PR":
        ds = presentation_state([_typed(i) for i in images[:3]], series, sop, number, "note")
    elif kind == "SR":
        ds = report(study=study, series=series, sop=sop, series_number=number, seed=sop)
    else:
        row = {c: None for c in ("patient_name", "patient_birth_date", "patient_sex",
                                 "accession_number", "study_id", "study_date", "study_time",
                                 "referring_physician_name")}  # fmt: skip
        row |= {"study_instance_uid": study, "patient_id": images[0].PatientID}
        ds = secondary_capture(row, series, sop, number, 1, _pixels(sop))
    set_values(ds, values_of(images[0], STUDY_KEYWORDS + IDENTITY))
    spoke.save(ds)
    return [("NEW_OBJECTS", APPLIED, (), (study,))]


def _typed(image):
    """A copy of `image` with every patient and study attribute present (highdicom reads them
    all); the new object gets the image's true values, absent ones included, afterwards."""
    copy = deepcopy(image)
    for keyword in IDENTITY + STUDY_KEYWORDS:
        if keyword not in copy:
            setattr(copy, keyword, "")
    return copy


def _images(objs) -> list:
    first = [o for o in series_of(objs).values() if o[0][1].Modality in ("MR", "CT")]
    return [ds for _p, ds in first[0]] if first else []


def _pixels(seed: str) -> np.ndarray:
    data = hashlib.sha256(seed.encode()).digest() * 128
    return np.frombuffer(data, dtype=np.uint8).reshape(64, 64).copy()
