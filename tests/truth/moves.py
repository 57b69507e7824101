"""Spoke operations that move objects between studies, as IMPAX or Orthanc would on files.

Each takes the spoke and a `pick` (which candidate, modulo their count) and returns the cc
records the change implies as (kind, status, source studies, target studies) — DESIGN §4's
table — or None when the spoke holds no candidate for it.
"""

from __future__ import annotations

from tests.truth.objects import PATIENT_KEYWORDS, STUDY_KEYWORDS, set_values
from tests.truth.spoke import FileSpoke, series_of, values_of

APPLIED, PENDING = "applied", "pending_review"
Expected = tuple[str, str, tuple[str, ...], tuple[str, ...]]
IDENTITY = ("PatientID", *PATIENT_KEYWORDS)


def pick_one(items, pick: int):
    items = sorted(items)
    return items[pick % len(items)] if items else None


def patient_of(objs) -> str:
    return str(objs[0][1].PatientID)


def split(spoke: FileSpoke, pick: int, *, renew: bool) -> list[Expected] | None:
    """Move a study's last series to a new study of another patient (DESIGN §4 SPLIT).

    IMPAX keeps the SOP UIDs (renew False); Orthanc's /split gives new series and SOP UIDs.
    """
    held = spoke.held()
    patients = {patient_of(objs): objs[0][1] for objs in held.values()}
    study = pick_one([s for s, o in held.items() if len(series_of(o)) >= 2
                      and len(patients.keys() - {patient_of(o)}) >= 1], pick)  # fmt: skip
    if study is None:
        return None
    other = pick_one(patients.keys() - {patient_of(held[study])}, pick // 7)
    identity = values_of(patients[other], IDENTITY)
    target, moved = spoke.mint("study"), list(series_of(held[study]).values())[-1]
    new_series = spoke.mint("series")
    for path, ds in moved:
        set_values(ds, identity)
        ds.StudyInstanceUID, ds.SeriesInstanceUID = target, new_series
        renew_sop(spoke, ds, renew)
        spoke.rewrite(path, ds)
    return [("SPLIT", APPLIED, (study,), (target,))]


def renew_sop(spoke: FileSpoke, ds, renew: bool = True) -> None:
    if renew:
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = spoke.mint("sop")


def merge(spoke: FileSpoke, pick: int, *, keep_values: bool) -> list[Expected] | None:
    """Merge one study of a patient into another of the same patient (DESIGN §4 MERGE).

    The merged objects get new series and SOP UIDs (as Orthanc, dcm4chee and IMPAX do) and
    keep their own study values (accession number, study ID, ...) or take the destination's.
    """
    held = spoke.held()
    pairs = [(s, d) for s in held for d in held
             if s != d and patient_of(held[s]) == patient_of(held[d])]  # fmt: skip
    chosen = pick_one(pairs, pick)
    if chosen is None:
        return None
    source, target = chosen
    like = values_of(held[target][0][1], STUDY_KEYWORDS + IDENTITY)
    renamed = {s: spoke.mint("series") for s in series_of(held[source])}
    for path, ds in held[source]:
        if not keep_values:
            set_values(ds, like)
        ds.StudyInstanceUID, ds.SeriesInstanceUID = target, renamed[ds.SeriesInstanceUID]
        renew_sop(spoke, ds)
        spoke.rewrite(path, ds)
    return [("MERGE", APPLIED, (source,), (target,))]


def segment(spoke: FileSpoke, pick: int) -> list[Expected] | None:
    """Break a study in two for its patient: the last series moves to a new study (SOP UIDs
    kept) and the first image is copied into it as well (a duplicate, DESIGN §4 SEGMENT)."""
    held = spoke.held()
    study = pick_one([s for s, o in held.items() if len(series_of(o)) >= 2], pick)
    if study is None:
        return None
    groups = list(series_of(held[study]).values())
    target, new_series = spoke.mint("study"), spoke.mint("series")
    for path, ds in groups[-1]:
        ds.StudyInstanceUID, ds.SeriesInstanceUID = target, new_series
        spoke.rewrite(path, ds)
    _path, copy = groups[0][0]
    copy.StudyInstanceUID, copy.SeriesInstanceUID = target, spoke.mint("series")
    renew_sop(spoke, copy)
    spoke.save(copy)
    return [("SEGMENT", APPLIED, (study,), tuple(sorted((study, target))))]


def uid_fix(spoke: FileSpoke, pick: int, *, orthanc: bool) -> list[Expected] | None:
    """Give a whole study a new study UID: IMPAX keeps series and SOP UIDs and sets the order's
    accession number; Orthanc's modify without Keep renews every UID and changes a value.
    DESIGN §4: either way the record waits for review, carrying the attribute changes."""
    held = spoke.held()
    study = pick_one(held, pick)
    if study is None:
        return None
    target = spoke.mint("study")
    renamed = {s: spoke.mint("series") for s in series_of(held[study])}
    change = {"StudyDescription": "Corrected by modify"} if orthanc else {
        "AccessionNumber": f"ORD{spoke.minted}"}  # fmt: skip
    for path, ds in held[study]:
        set_values(ds, change)
        ds.StudyInstanceUID = target
        if orthanc:
            ds.SeriesInstanceUID = renamed[ds.SeriesInstanceUID]
        renew_sop(spoke, ds, orthanc)
        spoke.rewrite(path, ds)
    return [("UID_FIX", PENDING, (study,), (target,))]


def age_out(spoke: FileSpoke, pick: int) -> list[Expected] | None:
    """A study leaves the spoke's cache: not reported, never deleted (DESIGN §2 scope rule)."""
    held = spoke.held()
    study = pick_one(held, pick)
    if study is None or len(held) < 2:
        return None
    spoke.frozen_patients.add(patient_of(held[study]))
    spoke.age_out(study)
    return []
