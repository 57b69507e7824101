"""A C-FIND identifier's listing row from its raw values is the row pydicom's conversion gives."""

from __future__ import annotations

import warnings
from io import BytesIO

import pydicom
import pytest
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pynetdicom.dsutils import decode, encode

from spokesync.tasks.manifest.dicom_headers import manifest_row
from spokesync.tasks.spokes import listed_row as listed
from spokesync.tasks.spokes.source import TRACKED_KEYWORDS, listing_of
from tests.support.builders import pydicom_test_files

PLAIN = {
    "SOPInstanceUID": b"1.2.826.0.1.3680043.9.7.1", "SOPClassUID": b"1.2.840.10008.5.1.4.1.1.2",
    "SeriesInstanceUID": b"1.2.826.0.1.3680043.9.7.2", "StudyInstanceUID": b"1.2.3.4\x00",
    "PatientID": b"P1", "PatientName": b"Doe^John^^^", "PatientBirthDate": b"19700101",
    "StudyDate": b"20240102", "StudyTime": b"101010.123 ", "Modality": b"CT",
    "SeriesNumber": b"+7", "InstanceNumber": b"007 ", "StudyDescription": b"  padded \x00",
    "AccessionNumber": b"A" * 40,  # over-long for SH: kept as sent
    "IssuerOfPatientID": b"",  # sent empty, as a C-FIND answer leaves a key it cannot fill
}  # fmt: skip
# values read straight from their bytes (the fast path) ...
FAST = {
    "plain": {},
    "utf8_ascii_text": {"SpecificCharacterSet": b"ISO_IR 192"},
    "unknown_charset": {"SpecificCharacterSet": b"ISO_IR 999"},
    "blank_numbers": {"SeriesNumber": b"  ", "InstanceNumber": b""},
    "number_past_int32": {"InstanceNumber": b"99999999999 "},
}
# ... and values only pydicom can say what they read as
PARSED = {
    "latin1_name": {"SpecificCharacterSet": b"ISO_IR 100",
                    "PatientName": "Müller".encode("latin-1")},
    "japanese_name": {"SpecificCharacterSet": b"\\ISO 2022 IR 87",
                      "PatientName": "Yamada^Tarou=山田^太郎".encode("iso2022_jp")},
    "utf8_name": {"SpecificCharacterSet": b"ISO_IR 192", "PatientName": "Łukasz^Ćwik".encode()},
    "multi_valued": {"StudyDescription": b"A\\B ", "Modality": b"CT\\MR"},
    "name_groups": {"PatientName": b"A^B==", "ReferringPhysicianName": b"X=Y"},
    "decimal_number": {"SeriesNumber": b"1.0"},
    "bad_number": {"SeriesNumber": b"abc", "InstanceNumber": b"1\\2"},
    "control_character": {"StudyDescription": b"bad\x01value"},
}  # fmt: skip


def identifier(values: dict[str, bytes], implicit: bool) -> Dataset:
    """The identifier as a C-FIND SCU receives it: encoded by the PACS, decoded by pynetdicom."""
    ds = Dataset()
    for keyword, raw in (PLAIN | values).items():
        tag = tag_for_keyword(keyword)
        ds[tag] = RawDataElement(tag, dictionary_VR(tag), len(raw), raw, 0, False, True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return decode(BytesIO(encode(ds, implicit, True)), implicit, True)


def pydicom_row(values: dict[str, bytes], implicit: bool) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = identifier(values, implicit)
        return manifest_row(ds, object_uri=None, object_size=None, fingerprint=None)


@pytest.mark.parametrize("implicit", [True, False], ids=["implicit", "explicit"])
@pytest.mark.parametrize("case", sorted(FAST))
def test_plain_values_are_read_from_their_bytes_as_pydicom_reads_them(monkeypatch, case, implicit):
    expected = pydicom_row(FAST[case], implicit)
    ds = identifier(FAST[case], implicit)

    def not_called(*_args, **_kwargs):
        raise AssertionError("a plain identifier must not need pydicom's conversion")

    monkeypatch.setattr(listed, "manifest_row", not_called)
    assert listed.listed_row(ds) == expected


@pytest.mark.parametrize("implicit", [True, False], ids=["implicit", "explicit"])
@pytest.mark.parametrize("case", sorted(PARSED))
def test_values_only_pydicom_can_read_go_through_pydicom_and_give_its_row(case, implicit):
    expected = pydicom_row(PARSED[case], implicit)
    assert listed.listed_row(identifier(PARSED[case], implicit)) == expected


def test_an_element_sent_with_another_vr_than_the_dictionary_is_left_to_pydicom():
    ds = identifier({}, implicit=False)
    tag = tag_for_keyword("StudyDescription")
    ds[tag] = RawDataElement(tag, "UN", 5, b"plain", 0, False, True)
    assert listed._plain_row(ds) is None
    assert listed.listed_row(ds) == manifest_row(ds, object_uri=None, object_size=None,
                                                 fingerprint=None)  # fmt: skip


def test_every_pydicom_test_file_header_lists_as_pydicom_reads_it():
    checked = 0
    for path in pydicom_test_files():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                source = pydicom.dcmread(path, stop_before_pixels=True, force=True)
                ds = Dataset()
                for keyword in ("SpecificCharacterSet", *TRACKED_KEYWORDS):
                    if keyword in source:
                        ds[keyword] = source[keyword]
                raw = encode(ds, True, True)
        except Exception:  # a test file pydicom itself cannot re-encode: not an identifier
            continue
        if raw is None:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = manifest_row(decode(BytesIO(raw), True, True), object_uri=None,
                                    object_size=None, fingerprint=None)  # fmt: skip
            assert listed.listed_row(decode(BytesIO(raw), True, True)) == expected, path
        checked += 1
    assert checked > 50


def test_a_listing_names_the_optional_columns_some_identifier_supplied():
    listing = listing_of([identifier({}, True), identifier({"SeriesDescription": b"S"}, True)])
    assert [row["series_description"] for row in listing.rows] == [None, "S"]
    assert "series_description" in listing.supplied
    assert "referring_physician_name" not in listing.supplied
    assert "issuer_of_patient_id" in listing.supplied  # sent empty is still supplied
