"""Map an object's header to one manifest row (DESIGN §2), so every drop writer agrees on values."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydicom import dcmread
from pydicom.charset import python_encoding
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from spokesync.tasks.manifest.schema import MANIFEST_SCHEMA

# manifest column -> DICOM keyword, for the plain text columns.
TEXT_COLUMNS = {
    "sop_instance_uid": "SOPInstanceUID",
    "sop_class_uid": "SOPClassUID",
    "series_instance_uid": "SeriesInstanceUID",
    "study_instance_uid": "StudyInstanceUID",
    "patient_id": "PatientID",
    "issuer_of_patient_id": "IssuerOfPatientID",
    "patient_name": "PatientName",
    "patient_birth_date": "PatientBirthDate",
    "patient_sex": "PatientSex",
    "accession_number": "AccessionNumber",
    "study_id": "StudyID",
    "study_date": "StudyDate",
    "study_time": "StudyTime",
    "study_description": "StudyDescription",
    "referring_physician_name": "ReferringPhysicianName",
    "study_status": "StudyStatusID",
    "modality": "Modality",
    "series_description": "SeriesDescription",
}
# The attributes an object must agree on with its manifest row before it is archived (DESIGN §2).
IDENTITY_COLUMNS = ("sop_instance_uid", "series_instance_uid", "study_instance_uid",
                    "sop_class_uid", "patient_id")  # fmt: skip
INT_COLUMNS = {"series_number": "SeriesNumber", "instance_number": "InstanceNumber"}
_INT32 = range(-(2**31), 2**31)


def manifest_row(
    ds: Dataset, *, object_uri: str | None, object_size: int | None, fingerprint: str | None
) -> dict[str, Any]:
    """Return the MANIFEST_SCHEMA row for a (header-only) dataset; absent or empty values are None.

    Text is stripped, person names keep their DICOM form (`Family^Given`), multi-valued text is
    joined with a backslash as stored, and a number that is not a valid int32 becomes None.
    """
    with warnings.catch_warnings():  # once per row: entering it costs more than a value
        warnings.simplefilter("ignore")  # invalid values become None here, not log noise
        row: dict[str, Any] = {n: text_value(_value(ds, kw)) for n, kw in TEXT_COLUMNS.items()}
        row.update({name: int_value(_value(ds, kw)) for name, kw in INT_COLUMNS.items()})
    meta = getattr(ds, "file_meta", None)
    row["transfer_syntax_uid"] = text_value(meta.get("TransferSyntaxUID") if meta else None)
    row["fingerprint"] = fingerprint
    row["object_size"] = None if object_size is None else int(object_size)
    row["object_uri"] = object_uri
    return {field.name: row[field.name] for field in MANIFEST_SCHEMA}


def read_identity(path: Path) -> dict[str, str | None]:
    """Whatever identity an unreadable object still shows (pydicom force=True, header only):
    its SOP, series and study UIDs and patient ID; {} when nothing can be read."""
    keywords = {column: TEXT_COLUMNS[column] for column in IDENTITY_COLUMNS}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = dcmread(path, force=True, stop_before_pixels=True,
                         specific_tags=list(keywords.values()))  # fmt: skip
    except Exception:  # a file too broken for even this: its path and reason still go out
        return {}
    return {column: text_value(_get(ds, keyword)) for column, keyword in keywords.items()}


def unknown_character_sets(ds: Dataset) -> list[str]:
    """The Specific Character Set terms pydicom does not know (it then reads the text with its
    default): such objects are archived as sent and reported, never refused (DESIGN §2)."""
    return unknown_terms(text_value(_get(ds, "SpecificCharacterSet")) or "")


def unknown_terms(charset: str) -> list[str]:
    """The terms of a Specific Character Set value (text_value of it) unknown to pydicom."""
    return [t for t in (term.strip() for term in charset.split("\\")) if t not in python_encoding]


def identity_disagreements(ds: Dataset | Mapping[str, Any], row: dict[str, Any]) -> list[str]:
    """The DICOM keywords on which a header (a dataset, or values by keyword) and its manifest
    row name different objects. Only keywords are returned, never values: a patient ID is a
    demographic.
    """
    return [
        TEXT_COLUMNS[column]
        for column in IDENTITY_COLUMNS
        if text_value(_get(ds, TEXT_COLUMNS[column])) != text_value(row.get(column))
    ]


def _get(ds: Dataset | Mapping[str, Any], keyword: str) -> object:
    """Return an attribute's value, or None when it is absent or pydicom cannot convert it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid values become None here, not log noise
        return _value(ds, keyword)


def _value(ds: Dataset | Mapping[str, Any], keyword: str) -> object:
    """_get without its own warnings filter (the caller has set one)."""
    try:
        return ds.get(keyword)
    except Exception:  # a malformed value in a spoke's object must not stop its manifest
        return None


def text_value(value: object) -> str | None:
    """Return an attribute value as stripped text (backslash-joined if multi-valued), or None."""
    if value is None:
        return None
    if isinstance(value, MultiValue | list | tuple):
        text = "\\".join(str(v).strip() for v in value)
    else:
        text = str(value)
    text = text.strip(" \x00")
    return text or None


def int_value(value: object) -> int | None:
    """Return an IS attribute as an int32 (first value if several), or None when it is not one."""
    if isinstance(value, MultiValue | list | tuple):
        value = value[0] if value else None
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        return None
    return number if number in _INT32 else None
