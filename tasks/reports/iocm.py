"""IHE IOCM rejection notes: one Key Object Selection document per study and reason.

The notes reference rejected instances by the UIDs the spoke knew them under, so a spoke (or any
IOCM-aware PACS) can apply the hub's deletions. Their own UIDs are minted deterministically from
the cc record and the study (DESIGN §5), so exporting twice gives the same files.
"""

from __future__ import annotations

import hashlib
from itertools import groupby
from pathlib import Path

from highdicom.ko import KeyObjectSelection, KeyObjectSelectionDocument
from highdicom.sr import CodedConcept
from pydicom.dataset import Dataset

REASONS = {
    "113001": "Rejected for Quality Reasons",
    "113037": "Rejected for Patient Safety Reasons",
    "113038": "Incorrect Modality Worklist Entry",
    "113039": "Data Retention Policy Expired",
}
DEFAULT_REASON = "113001"


def minted_uid(*parts: object) -> str:
    """`2.25.` + an integer from a hash of what the UID stands for (same input, same UID)."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return f"2.25.{int.from_bytes(digest[:15], 'big')}"


def reference(row: dict) -> Dataset:
    """A minimal dataset standing for one rejected instance (highdicom's evidence)."""
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = row["sop_class_uid"], row["sop_instance_uid"]
    ds.SeriesInstanceUID, ds.StudyInstanceUID = (
        row["series_instance_uid"],
        row["study_instance_uid"],
    )
    ds.PatientID, ds.PatientName = row["patient_id"], row["patient_name"] or ""
    ds.PatientBirthDate, ds.PatientSex = row["patient_birth_date"] or "", row["patient_sex"] or ""
    ds.StudyDate, ds.StudyTime = row["study_date"] or "", row["study_time"] or ""
    ds.StudyID, ds.AccessionNumber = row["study_id"] or "", row["accession_number"] or ""
    ds.ReferringPhysicianName = row["referring_physician_name"] or ""
    return ds


def rejection_note(rows: list[dict]) -> Dataset:
    """The KOS for the rows of one study and one reason code."""
    code = rows[0]["reason_code"] if rows[0]["reason_code"] in REASONS else DEFAULT_REASON
    evidence = [reference(r) for r in rows]
    title = CodedConcept(value=code, scheme_designator="DCM", meaning=REASONS[code])
    study, seqs = rows[0]["study_instance_uid"], sorted({r["seq"] for r in rows})
    note = KeyObjectSelectionDocument(
        evidence=evidence,
        content=KeyObjectSelection(document_title=title, referenced_objects=evidence),
        series_instance_uid=minted_uid("iocm-series", study, code, *seqs),
        series_number=9901,
        sop_instance_uid=minted_uid("iocm", study, code, *seqs),
        instance_number=1,
        manufacturer="spokesync",
    )
    return note


def export_notes(rows: list[dict], out: Path) -> list[Path]:
    """Write one rejection note per (study, reason) under `out`; return the files."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    key = lambda r: (r["study_instance_uid"], r["reason_code"])  # noqa: E731
    for (study, code), group in groupby(sorted(rows, key=key), key=key):
        note = rejection_note(list(group))
        path = out / f"{study}-{code}.dcm"
        note.save_as(path, enforce_file_format=True)
        written.append(path)
    return written
