"""Real DICOM objects for a spoke: pydicom's bundled test images, re-identified and re-valued.

Each object starts from one of pydicom's own test files, gets its own UIDs and values, and a
few pixel bytes derived from a seed, so no two objects share a fingerprint (DESIGN §3) unless a
test copies one on purpose. No object carries an Issuer of Patient ID unless a test gives one,
as most objects in the field.
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

# modality -> a single-frame, uncompressed image among pydicom's bundled test files, and the
# bundled structured report that new reports start from
TEMPLATES = {"MR": "MR_small.dcm", "CT": "CT_small.dcm", "SR": "reportsi.dcm"}
PATIENT_KEYWORDS = ("PatientName", "PatientBirthDate", "PatientSex", "IssuerOfPatientID")
STUDY_KEYWORDS = ("AccessionNumber", "StudyID", "StudyDate", "StudyTime", "StudyDescription",
                  "ReferringPhysicianName")  # fmt: skip
SERIES_KEYWORDS = ("SeriesDescription",)
_CACHE: dict[str, Dataset] = {}


def template(modality: str) -> Dataset:
    """A fresh copy of the bundled test image for `modality` (parsed once per process)."""
    name = TEMPLATES[modality]
    if name not in _CACHE:
        _CACHE[name] = pydicom.dcmread(get_testdata_file(name))
    return copy.deepcopy(_CACHE[name])


def image(
    modality: str,
    *,
    patient_id: str,
    study: str,
    series: str,
    sop: str,
    series_number: int,
    instance_number: int,
    values: dict[str, str | None],
    seed: str,
) -> Dataset:
    """One image object: identity from the arguments, `values` by DICOM keyword.

    A value None removes the attribute (absent), '' keeps it empty; every patient, study and
    series attribute the manifest tracks is absent unless `values` names it, so no value of
    the template file leaks into a study.
    """
    ds = template(modality)
    ds.remove_private_tags()
    if "OtherPatientIDs" in ds:
        del ds.OtherPatientIDs
    ds.PatientID, ds.StudyInstanceUID, ds.SeriesInstanceUID = patient_id, study, series
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = sop
    ds.SeriesNumber, ds.InstanceNumber = series_number, instance_number
    set_values(ds, dict.fromkeys(PATIENT_KEYWORDS + STUDY_KEYWORDS + SERIES_KEYWORDS) | values)
    ds.PixelData = seeded_pixels(ds.PixelData, seed)
    return ds


def set_values(ds: Dataset, values: dict[str, str | None]) -> None:
    """Set (or with None remove) attributes by keyword, choosing a character set that fits."""
    for keyword, value in values.items():
        if value is None:
            if keyword in ds:
                delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    texts = [str(ds.get(k, "")) for k in PATIENT_KEYWORDS + STUDY_KEYWORDS + SERIES_KEYWORDS]
    ds.SpecificCharacterSet = character_set(texts, ds.get("SpecificCharacterSet"))


def character_set(texts: list[str], current: object) -> str | None:
    """ISO_IR 100 (Latin-1) where every value fits it, else ISO_IR 192 (UTF-8)."""
    joined = "".join(texts)
    if joined.isascii():
        return str(current) if current else "ISO_IR 100"
    try:
        joined.encode("latin-1")
    except UnicodeEncodeError:
        return "ISO_IR 192"
    return "ISO_IR 100"


def report(*, study: str, series: str, sop: str, series_number: int, seed: str) -> Dataset:
    """A structured report (pydicom's bundled one) whose text names `seed`, so its content
    fingerprint (DESIGN §3: ds1) is its own."""
    ds = template("SR")
    ds.remove_private_tags()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = sop
    ds.SeriesNumber, ds.InstanceNumber = series_number, 1
    next(e for e in ds.iterall() if e.keyword == "TextValue").value = f"Finding {seed}"
    return ds


def seeded_pixels(pixels: bytes, seed: str) -> bytes:
    """The template's pixel bytes with the first 16 replaced from `seed`: a content of its own."""
    head = hashlib.sha256(seed.encode()).digest()[:16]
    return head + pixels[16:]


def save(ds: Dataset, folder: Path) -> Path:
    """Write `ds` as folder/<SOP UID>.dcm (a PACS's file store: one file per instance)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{ds.SOPInstanceUID}.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


def read(path: Path) -> Dataset:
    return pydicom.dcmread(path)
