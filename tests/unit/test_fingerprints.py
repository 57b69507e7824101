"""Fingerprints v1 (DESIGN §3) recognise content after UID and identity changes, and only then."""

from __future__ import annotations

import copy
import hashlib
from io import BytesIO

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian

from spokesync.catalog.errors import ObjectRefused
from spokesync.tasks.manifest.fingerprints import (
    canonical_bytes,
    fingerprint_bytes,
    fingerprint_dataset,
    fingerprint_file,
)

IMAGES = ("CT_small.dcm", "MR_small.dcm")
NON_IMAGES = ("rtplan.dcm", "reportsi.dcm")
ALL = IMAGES + NON_IMAGES


def read(name: str) -> Dataset:
    return pydicom.dcmread(get_testdata_file(name))


def to_bytes(ds: Dataset) -> bytes:
    buffer = BytesIO()
    ds.save_as(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("name", IMAGES)
def test_image_fingerprint_is_the_hash_of_the_stored_pixel_bytes(name):
    ds = read(name)
    expected = "px1:" + hashlib.sha256(ds.PixelData).hexdigest()
    assert fingerprint_file(get_testdata_file(name)) == expected


def test_non_image_objects_get_distinct_dataset_fingerprints():
    prints = [fingerprint_file(get_testdata_file(name)) for name in NON_IMAGES]
    assert all(p.startswith("ds1:") and len(p) == 4 + 64 for p in prints)
    assert len(set(prints)) == len(prints)


@pytest.mark.parametrize("name", ALL)
def test_bytes_file_and_dataset_give_the_same_fingerprint(name):
    path = get_testdata_file(name)
    with open(path, "rb") as handle:
        data = handle.read()
    assert fingerprint_bytes(data) == fingerprint_file(path) == fingerprint_dataset(read(name))


@pytest.mark.parametrize("name", ALL)
def test_fingerprint_survives_new_uids(name):
    ds = read(name)
    before = fingerprint_dataset(ds)
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
        setattr(ds, keyword, pydicom.uid.generate_uid(entropy_srcs=[name, keyword]))
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    for elem in ds.iterall():  # references inside sequences are re-identified on merge too
        if elem.keyword == "ReferencedSOPInstanceUID":
            elem.value = pydicom.uid.generate_uid(entropy_srcs=[str(elem.value)])
    assert fingerprint_bytes(to_bytes(ds)) == before


@pytest.mark.parametrize("name", ALL)
def test_fingerprint_survives_a_patient_and_study_correction(name):
    ds = read(name)
    before = fingerprint_dataset(ds)
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = "OTHER^PATIENT", "X-42", "19990101"
    ds.AccessionNumber, ds.StudyDescription, ds.StudyDate = "ACC9", "merged", "20250101"
    ds.SeriesNumber, ds.SeriesDescription, ds.InstitutionName = 99, "split off", "Hub"
    assert fingerprint_bytes(to_bytes(ds)) == before


def test_fingerprint_ignores_private_and_identity_elements_inside_sequences():
    ds = read("rtplan.dcm")
    before = fingerprint_dataset(ds)
    item = ds.BeamSequence[0]
    block = item.private_block(0x0011, "SPOKESYNC TEST", create=True)
    block.add_new(0x01, "LO", "vendor noise")
    item.PatientID = "NESTED-ID"
    assert fingerprint_bytes(to_bytes(ds)) == before


@pytest.mark.parametrize("name", NON_IMAGES)
def test_dataset_fingerprint_changes_when_content_changes(name):
    ds = read(name)
    before = fingerprint_dataset(ds)
    ds.InstanceNumber = 777
    assert fingerprint_dataset(ds) != before


def test_different_pixels_give_different_fingerprints():
    ds = read("CT_small.dcm")
    before = fingerprint_dataset(ds)
    pixels = bytearray(ds.PixelData)
    pixels[100] ^= 0x01
    ds.PixelData = bytes(pixels)
    assert fingerprint_bytes(to_bytes(ds)) != before


@pytest.mark.parametrize("name", NON_IMAGES)
def test_fingerprint_is_stable_across_defined_and_undefined_sequence_length(name):
    encoded = {}
    for undefined in (False, True):
        ds = read(name)
        for elem in ds.iterall():
            if elem.VR == "SQ":
                elem.is_undefined_length = undefined
                for item in elem.value:
                    item.is_undefined_length_sequence_item = undefined
        encoded[undefined] = to_bytes(ds)
    assert encoded[False] != encoded[True]
    assert fingerprint_bytes(encoded[False]) == fingerprint_bytes(encoded[True])


def test_dataset_fingerprint_does_not_depend_on_the_transfer_syntax():
    ds = read("rtplan.dcm")  # stored Implicit VR Little Endian
    before = fingerprint_dataset(ds)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    data = to_bytes(ds)
    assert pydicom.dcmread(BytesIO(data)).original_encoding == (False, True)
    assert fingerprint_bytes(data) == before


def test_implicit_and_explicit_copies_share_the_pixel_fingerprint():
    explicit = fingerprint_file(get_testdata_file("MR_small.dcm"))
    assert fingerprint_file(get_testdata_file("MR_small_implicit.dcm")) == explicit


def test_encapsulated_pixel_data_is_hashed_as_stored_without_decoding():
    path = get_testdata_file("MR_small_jp2klossless.dcm")
    with open(path, "rb") as handle:
        data = handle.read()
    start = data.index(b"\xe0\x7f\x10\x00") + 12  # tag, VR, 2 reserved, undefined length
    assert data[start - 4 : start] == b"\xff\xff\xff\xff"
    end = data.index(b"\xfe\xff\xdd\xe0\x00\x00\x00\x00", start)
    assert fingerprint_file(path) == "px1:" + hashlib.sha256(data[start:end]).hexdigest()


def test_fingerprinting_does_not_change_the_callers_dataset():
    ds = read("reportsi.dcm")
    snapshot = copy.deepcopy(ds)
    fingerprint_dataset(ds)
    assert ds == snapshot and to_bytes(ds) == to_bytes(snapshot)


def test_non_dicom_file_is_refused_naming_the_file(tmp_path):
    junk = tmp_path / "notes.dcm"
    junk.write_bytes(b"this is not DICOM at all" * 20)
    with pytest.raises(ObjectRefused, match="notes.dcm"):
        fingerprint_file(junk)
    with pytest.raises(ObjectRefused, match="upload.bin: not a DICOM Part 10 file"):
        fingerprint_bytes(b"junk", name="upload.bin")


@pytest.mark.parametrize(
    ("name", "cut"), [("CT_small.dcm", 20_000), ("rtplan.dcm", 1_500), ("reportsi.dcm", 1_200)]
)
def test_truncated_file_is_refused(tmp_path, name, cut):
    with open(get_testdata_file(name), "rb") as handle:
        data = handle.read()[:cut]
    target = tmp_path / f"cut-{name}"
    target.write_bytes(data)
    with pytest.raises(ObjectRefused, match=f"cut-{name}: truncated or malformed"):
        fingerprint_file(target)
    with pytest.raises(ObjectRefused, match="truncated"):
        fingerprint_bytes(data, name=target.name)


def test_image_cut_before_its_pixel_data_is_refused():
    ds = read("CT_small.dcm")
    del ds.PixelData
    with pytest.raises(ObjectRefused, match="without Pixel Data"):
        fingerprint_bytes(to_bytes(ds), name="ct.dcm")


def test_documented_test_vector_gives_the_documented_bytes_and_fingerprint():
    # The same example as docs/fingerprints.md, "Test vector": keep the two in step.
    ds = Dataset()
    ds.SpecificCharacterSet, ds.SOPClassUID = "ISO_IR 100", "1.2.840.10008.5.1.4.1.1.11.1"
    ds.SOPInstanceUID, ds.StudyDate, ds.PatientName = "2.25.1", "20250101", "FAKE^ALICE"
    ds.InstanceNumber, ds.ContentLabel = 1, "NOTE"
    image = Dataset()
    image.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    image.ReferencedSOPInstanceUID = "2.25.2"
    series = Dataset()
    series.SeriesInstanceUID, series.ReferencedImageSequence = "2.25.3", [image]
    ds.ReferencedSeriesSequence = [series]
    ds.private_block(0x0009, "ACME", create=True).add_new(0x01, "LO", "vendor")
    expected = bytes.fromhex(
        "08000500 4353 0a00 49534f5f495220313030"  # (0008,0005) CS "ISO_IR 100"
        "08001511 5351 0000 ffffffff"  # (0008,1115) SQ, undefined length
        "feff00e0 ffffffff"  # item, undefined length
        "08004011 5351 0000 ffffffff"  # (0008,1140) SQ
        "feff00e0 ffffffff feff0de0 00000000"  # an item left empty (its UIDs are dropped)
        "feffdde0 00000000"  # sequence delimiter
        "feff0de0 00000000 feffdde0 00000000"  # item and sequence delimiters
        "20001300 4953 0200 3120"  # (0020,0013) IS "1 "
        "70008000 4353 0400 4e4f5445"  # (0070,0080) CS "NOTE"
    )
    digest = "0bd82d44719f253d0960e3876efeac629821bc1524a140034ef6277bea538f78"
    assert canonical_bytes(ds) == expected
    assert hashlib.sha256(expected).hexdigest() == digest
    assert fingerprint_dataset(ds) == "ds1:" + digest
