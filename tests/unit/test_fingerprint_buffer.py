"""Archiving reads each object once: the walk's identity and fingerprint are pydicom's."""

from __future__ import annotations

import tarfile
from io import BytesIO

import pydicom
import pytest
from pydicom.data import get_testdata_file

from spokesync.catalog.errors import ObjectRefused
from spokesync.tasks.manifest.dicom_headers import (
    IDENTITY_COLUMNS,
    TEXT_COLUMNS,
    identity_disagreements,
    text_value,
)
from spokesync.tasks.manifest.fingerprint_buffer import inspect_object
from spokesync.tasks.manifest.fingerprints import fingerprint_file
from spokesync.tasks.nearline.ustar import ustar_header

# explicit and implicit little endian take the walk; the others go through pydicom
WALKED = ("CT_small.dcm", "MR_small.dcm", "MR_small_implicit.dcm")
PARSED = ("MR_small_bigendian.dcm", "image_dfl.dcm", "JPEG2000.dcm", "rtplan.dcm")


def row_of(path: str) -> dict:
    """The identity columns of a manifest row, as pydicom reads them from the file."""
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    return {c: text_value(ds.get(TEXT_COLUMNS[c])) for c in IDENTITY_COLUMNS}


@pytest.mark.parametrize("name", WALKED + PARSED)
def test_one_read_gives_the_fingerprint_and_identity_pydicom_gives(name):
    path = get_testdata_file(name)
    with open(path, "rb") as handle:
        found = inspect_object(memoryview(handle.read()), path)
    assert found.fingerprint_now() == fingerprint_file(path)
    assert identity_disagreements(found.header, row_of(path)) == []
    assert isinstance(found.header, dict) == (name in WALKED)


def test_the_walk_names_the_attribute_a_manifest_row_disagrees_on():
    path = get_testdata_file("CT_small.dcm")
    with open(path, "rb") as handle:
        found = inspect_object(memoryview(handle.read()), path)
    row = row_of(path) | {"series_instance_uid": "1.2.3.4", "patient_id": "SOMEONE-ELSE"}
    assert identity_disagreements(found.header, row) == ["SeriesInstanceUID", "PatientID"]


@pytest.mark.parametrize("cut", [200, 1_000, 20_000, 39_000])
def test_a_cut_object_is_refused_by_the_walk_naming_it(cut):
    with open(get_testdata_file("CT_small.dcm"), "rb") as handle:
        data = handle.read()[:cut]
    with pytest.raises(ObjectRefused, match="cut.dcm: truncated or malformed"):
        inspect_object(memoryview(data), "cut.dcm")


def test_a_non_ascii_patient_id_is_left_to_pydicom_and_still_agrees():
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.SpecificCharacterSet, ds.PatientID = "ISO_IR 100", "MÜLLER-7"
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    found = inspect_object(buffer.getbuffer(), "latin.dcm")
    assert not isinstance(found.header, dict)
    assert identity_disagreements(found.header, {c: text_value(ds.get(TEXT_COLUMNS[c]))
                                                 for c in IDENTITY_COLUMNS}) == []  # fmt: skip


@pytest.mark.parametrize(
    ("name", "size", "mtime"),
    [("1.2.3.dcm", 12345, 1_700_000_000), ("SHA256SUMS", 0, 0), ("x" * 100, 8**11 - 1, 1)],
)
def test_the_direct_ustar_header_is_the_one_tarfile_writes(name, size, mtime):
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode, info.uname, info.gname = size, mtime, 0o444, "", ""
    expected = info.tobuf(format=tarfile.USTAR_FORMAT, encoding="ascii", errors="strict")
    assert ustar_header(name, size, mtime) == expected
