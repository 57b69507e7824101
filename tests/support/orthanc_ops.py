"""Changes made to a real Orthanc through its own REST API, each with the cc record it implies.

Every operation returns (kind, source study UIDs, target study UIDs) as the hub should record
them, read from Orthanc's own answers (Orthanc mints the new UIDs).
"""

from __future__ import annotations

import io
from datetime import date

import numpy as np
import pydicom
from pydicom.uid import generate_uid

from simulator.objects import presentation_state, secondary_capture
from spokesync.tasks.manifest.dicom_headers import TEXT_COLUMNS, manifest_row
from spokesync.tasks.manifest.schema import PATIENT_COLUMNS, STUDY_COLUMNS
from tests.support.orthanc import Orthanc

STUDY_KEYWORDS = [TEXT_COLUMNS[c] for c in PATIENT_COLUMNS + STUDY_COLUMNS]

Expected = tuple[str, tuple[str, ...], tuple[str, ...]]


def studies_by_patient(orthanc: Orthanc) -> dict[str, list[str]]:
    """{PatientID: [StudyInstanceUID, ...]} as Orthanc holds them, UIDs sorted."""
    held: dict[str, list[str]] = {}
    for study in orthanc.rest("GET", "/studies", params={"expand": ""}):
        patient = study["PatientMainDicomTags"]["PatientID"]
        held.setdefault(patient, []).append(study["MainDicomTags"]["StudyInstanceUID"])
    return {p: sorted(s) for p, s in sorted(held.items())}


def split_to_other_patient(orthanc: Orthanc) -> Expected:
    """Move one series of a study to a new study of another patient (Orthanc's /split)."""
    patients = studies_by_patient(orthanc)
    (first, studies), (other, _) = list(patients.items())[:2]
    source = studies[0]
    other_patient = orthanc.rest("GET", f"/patients/{_patient_id(orthanc, other)}")
    moved = orthanc.series_of(source)[0]["ID"]
    answer = orthanc.rest(
        "POST",
        f"/studies/{orthanc.lookup(source)}/split",
        json={
            "Series": [moved],
            "Replace": {
                k: other_patient["MainDicomTags"][k]
                for k in ("PatientID", "PatientName", "PatientBirthDate", "PatientSex")
            },
            "KeepSource": False,
        },
    )
    return "SPLIT", (source,), (answer["TargetStudyUID"],)


def merge_two_studies(orthanc: Orthanc) -> Expected:
    """Merge one study of a patient into another of the same patient (Orthanc's /merge)."""
    studies = next(s for s in studies_by_patient(orthanc).values() if len(s) >= 2)
    target, source = studies[0], studies[1]
    orthanc.rest(
        "POST",
        f"/studies/{orthanc.lookup(target)}/merge",
        json={"Resources": [orthanc.lookup(source)], "KeepSource": False},
    )
    return "MERGE", (source,), (target,)


def modify_patient_name(orthanc: Orthanc) -> Expected:
    """Replace PatientName in a study; Orthanc writes a new study with new UIDs.

    The patient has this one study: the hub keeps patient attributes per patient, so a name
    corrected in one of several studies is the patient's name in all of them on retrieval.
    """
    source = next(s for s in studies_by_patient(orthanc).values() if len(s) == 1)[0]
    answer = orthanc.rest(
        "POST",
        f"/studies/{orthanc.lookup(source)}/modify",
        json={"Replace": {"PatientName": "FAKE^CORRECTED"}, "KeepSource": False},
    )
    target = orthanc.rest("GET", answer["Path"])["MainDicomTags"]["StudyInstanceUID"]
    return "UID_FIX", (source,), (target,)


def delete_instance(orthanc: Orthanc, study: str | None = None) -> Expected:
    study = study or next(iter(studies_by_patient(orthanc).values()))[0]
    series = orthanc.series_of(study)[0]
    orthanc.rest("DELETE", f"/instances/{sorted(series['Instances'])[0]}")
    return "DELETE", (study,), ()


def delete_series(orthanc: Orthanc) -> Expected:
    study = next(iter(studies_by_patient(orthanc).values()))[0]
    orthanc.rest("DELETE", f"/series/{orthanc.series_of(study)[-1]['ID']}")
    return "DELETE", (study,), ()


def store_presentation_state(orthanc: Orthanc) -> Expected:
    """A new GSPS over three images of a study, stored into Orthanc as a workstation would."""
    study = next(iter(studies_by_patient(orthanc).values()))[0]
    images = [_dataset(orthanc, i) for i in sorted(orthanc.series_of(study)[0]["Instances"])[:3]]
    pr = presentation_state(images, generate_uid(), generate_uid(), 90, "spoke annotation")
    _store(orthanc, pr, like=images[0])
    return "NEW_OBJECTS", (), (study,)


def store_secondary_capture(orthanc: Orthanc) -> Expected:
    """A new secondary capture in a study, carrying the study's patient and study values."""
    study = list(studies_by_patient(orthanc).values())[-1][0]
    header = _dataset(orthanc, orthanc.series_of(study)[0]["Instances"][0])
    row = manifest_row(header, object_uri=None, object_size=None, fingerprint=None)
    _store(orthanc, _secondary_capture(row), like=header)
    return "NEW_OBJECTS", (), (study,)


def store_new_study(orthanc: Orthanc, on: date) -> str:
    """A secondary capture in a new study of an existing patient, dated `on`; its study UID."""
    study = list(studies_by_patient(orthanc).values())[0][0]
    header = _dataset(orthanc, orthanc.series_of(study)[0]["Instances"][0])
    row = manifest_row(header, object_uri=None, object_size=None, fingerprint=None)
    row |= {"study_instance_uid": generate_uid(), "study_date": f"{on:%Y%m%d}",
            "accession_number": "NEW0001", "study_id": "NEW1"}  # fmt: skip
    _store(orthanc, _secondary_capture(row))
    return row["study_instance_uid"]


def _secondary_capture(row: dict):
    pixels = np.arange(64 * 64, dtype=np.uint8).reshape(64, 64)
    return secondary_capture(row, generate_uid(), generate_uid(), 91, 1, pixels)


OPERATIONS = {
    "split": split_to_other_patient,
    "merge": merge_two_studies,
    "modify_patient_name": modify_patient_name,
    "delete_instance": delete_instance,
    "delete_series": delete_series,
    "store_presentation_state": store_presentation_state,
    "store_secondary_capture": store_secondary_capture,
}


def _patient_id(orthanc: Orthanc, patient_id: str) -> str:
    found = orthanc.rest(
        "POST", "/tools/find", json={"Level": "Patient", "Query": {"PatientID": patient_id}}
    )
    return found[0]


def _dataset(orthanc: Orthanc, instance_id: str):
    data = orthanc.session.get(f"{orthanc.url}/instances/{instance_id}/file", timeout=60)
    data.raise_for_status()
    return pydicom.dcmread(io.BytesIO(data.content))


def _store(orthanc: Orthanc, ds, *, like=None) -> None:
    """Store a new object, with every patient and study attribute of `like` when given."""
    for keyword in STUDY_KEYWORDS if like is not None else ():
        if keyword in like:
            setattr(ds, keyword, like[keyword].value)
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    orthanc.rest("POST", "/instances", data=buffer.getvalue())
