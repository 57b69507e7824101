"""Tiny real DICOM objects for the synthetic night's new objects (archiving fingerprints them).

Each object is pydicom's bundled CT_small with the manifest row's identity written into it and
its first pixel bytes replaced by a hash of its SOP UID, so every object has its own fingerprint.
"""

from __future__ import annotations

import copy
import functools
import hashlib
from pathlib import Path
from typing import Any

import numpy as np
from pydicom import examples
from pydicom.dataset import Dataset

from simulator.samples import derived_uid
from spokesync.tasks.manifest.dicom_headers import TEXT_COLUMNS
from spokesync.tasks.manifest.fingerprints import fingerprint_file

# manifest columns written into the object (their keywords come from the manifest builder's map)
IDENTITY = {
    column: TEXT_COLUMNS[column]
    for column in (
        "sop_instance_uid",
        "series_instance_uid",
        "study_instance_uid",
        "patient_id",
        "patient_name",
        "patient_birth_date",
        "patient_sex",
        "accession_number",
        "study_id",
        "study_date",
        "study_time",
        "study_description",
        "series_description",
    )
}


@functools.cache
def _template() -> Dataset:
    """pydicom's bundled CT_small, read once."""
    return examples.ct


def write_object(drop: Path, row: dict[str, Any]) -> dict[str, Any]:
    """Write the object a new manifest row points at and return the row, fingerprint included."""
    ds = copy.deepcopy(_template())
    for column, keyword in IDENTITY.items():
        if row.get(column) is not None:
            setattr(ds, keyword, row[column])
    ds.SeriesNumber = row["series_number"]
    ds.InstanceNumber = row["instance_number"]
    ds.file_meta.MediaStorageSOPInstanceUID = row["sop_instance_uid"]
    salt = hashlib.sha256(row["sop_instance_uid"].encode()).digest()
    ds.PixelData = salt + bytes(ds.PixelData)[len(salt) :]
    uri = f"objects/{row['sop_instance_uid']}.dcm"
    path = drop / uri
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return row | {
        "sop_class_uid": str(ds.SOPClassUID),
        "modality": str(ds.Modality),
        "transfer_syntax_uid": str(ds.file_meta.TransferSyntaxUID),
        "object_size": path.stat().st_size,
        "object_uri": uri,
        "fingerprint": fingerprint_file(path),
    }


def write_ct_study(
    folder: Path, index: int, count: int, *, matrix: int | None = None, per_series: int = 250
) -> list[Path]:
    """Write `count` CT images of one study, each with its own UIDs and pixel bytes.

    `matrix` (e.g. 512) replaces CT_small's 128 x 128 pixels by a matrix x matrix image of the
    same bit depth, for objects of a clinical CT's size (about 0.5 MB at 512).
    """
    base = _template()
    study = derived_uid(f"bench-retrieve|study-{index}")
    pixels = np.frombuffer(base.PixelData, dtype="<u2").copy()
    if matrix is not None:
        pixels = np.resize(pixels, matrix * matrix)
    paths = []
    for n in range(count):
        ds = copy.deepcopy(base)
        ds.PatientID, ds.PatientName = "BENCH-0001", "FAKE^BENCH"  # one patient
        ds.StudyInstanceUID, ds.AccessionNumber = study, f"BR{index:04d}"
        ds.SeriesInstanceUID = derived_uid(f"{study}|series-{n // per_series}")
        ds.SeriesNumber, ds.InstanceNumber = n // per_series + 1, n + 1
        ds.SOPInstanceUID = derived_uid(f"{study}|{n}")
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        if matrix is not None:
            ds.Rows = ds.Columns = matrix
        pixels[:2] = (index, n)  # distinct pixel bytes: distinct fingerprints
        ds.PixelData = pixels.tobytes()
        target = folder / f"study-{index}" / f"{n:05d}.dcm"
        target.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(target, enforce_file_format=True)
        paths.append(target)
    return paths
