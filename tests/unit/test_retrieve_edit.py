"""correct_dataset: current values, UIDs and references go in; what they replaced is recorded."""

from __future__ import annotations

import copy
import io
from datetime import UTC, datetime

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from spokesync.tasks.retrieve.edit import Target, UidMap, correct_dataset

NOW = datetime(2026, 11, 28, 6, 0, 0, tzinfo=UTC)
STUDY, SERIES, SOP = "1.2.3.1", "1.2.3.1.1", "1.2.3.1.1.1"


@pytest.fixture
def ct() -> Dataset:
    return pydicom.dcmread(get_testdata_file("CT_small.dcm"))


def same_uids(ds: Dataset, **values) -> Target:
    return Target(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID, values)


def modified(ds: Dataset) -> Dataset:
    [item] = ds.OriginalAttributesSequence
    [held] = item.ModifiedAttributesSequence
    return held


def test_a_corrected_patient_name_is_written_and_the_old_one_recorded(ct):
    old = str(ct.PatientName)
    edits = correct_dataset(ct, same_uids(ct, PatientName="FAKE^NEW"), UidMap(), now=NOW)
    assert str(ct.PatientName) == "FAKE^NEW" and edits.attributes == ["PatientName"]
    assert str(modified(ct).PatientName) == old and len(modified(ct)) == 1
    [item] = ct.OriginalAttributesSequence
    assert (
        item.ModifyingSystem == "spokesync" and item.ReasonForTheAttributeModification == "CORRECT"
    )
    assert item.AttributeModificationDateTime == "20261128060000.000000+0000"


def test_values_equal_to_the_stored_ones_change_nothing(ct):
    before = copy.deepcopy(ct)
    values = {
        "PatientName": str(ct.PatientName),
        "PatientID": ct.PatientID + "  ",  # compared as the manifest does: stripped
        "SeriesNumber": int(ct.SeriesNumber),
        "IssuerOfPatientID": "",  # the catalog's "no issuer" and an absent element agree
        "StudyStatusID": None,  # absent and no value agree
    }
    edits = correct_dataset(ct, same_uids(ct, **values), UidMap(), now=NOW)
    assert not edits.changed and edits.attributes == [] and ct == before


def test_no_value_removes_a_type_3_attribute_empties_type_2_and_keeps_modality(ct):
    ct.StudyDescription = "OLD DESCRIPTION"
    values = {"StudyDescription": None, "AccessionNumber": None, "Modality": None}
    ct.AccessionNumber = "A1"
    edits = correct_dataset(ct, same_uids(ct, **values), UidMap(), now=NOW)
    assert "StudyDescription" not in ct and ct.AccessionNumber == "" and ct.Modality == "CT"
    assert sorted(edits.attributes) == ["AccessionNumber", "StudyDescription"]
    assert (modified(ct).StudyDescription, modified(ct).AccessionNumber) == (
        "OLD DESCRIPTION",
        "A1",
    )


def test_an_added_attribute_is_recorded_with_zero_length(ct):
    assert "IssuerOfPatientID" not in ct
    correct_dataset(ct, same_uids(ct, IssuerOfPatientID="HOSP-A"), UidMap(), now=NOW)
    assert ct.IssuerOfPatientID == "HOSP-A"
    assert "IssuerOfPatientID" in modified(ct) and modified(ct)["IssuerOfPatientID"].is_empty


def test_identity_and_file_meta_take_the_current_uids(ct):
    stored = (ct.StudyInstanceUID, ct.SeriesInstanceUID, ct.SOPInstanceUID)
    edits = correct_dataset(ct, Target(STUDY, SERIES, SOP, {}), UidMap(), now=NOW)
    assert (ct.StudyInstanceUID, ct.SeriesInstanceUID, ct.SOPInstanceUID) == (STUDY, SERIES, SOP)
    assert ct.file_meta.MediaStorageSOPInstanceUID == SOP and edits.meta and edits.uids == 3
    held = modified(ct)
    assert (held.StudyInstanceUID, held.SeriesInstanceUID, held.SOPInstanceUID) == stored


def test_pixel_data_goes_out_byte_identical(ct):
    pixels = bytes(ct.PixelData)
    correct_dataset(ct, Target(STUDY, SERIES, SOP, {"PatientName": "X^Y"}), UidMap(), now=NOW)
    buffer = io.BytesIO()
    ct.save_as(buffer, enforce_file_format=True)
    assert pydicom.dcmread(io.BytesIO(buffer.getvalue())).PixelData == pixels


def presentation_state(images: list[str], series: str) -> Dataset:
    """A minimal object that refers to images two sequences deep, as a GSPS does."""
    ref = Dataset()
    ref.SeriesInstanceUID = series
    ref.ReferencedImageSequence = Sequence(
        [Dataset() for _ in images]
    )  # fmt: skip
    for item, uid in zip(ref.ReferencedImageSequence, images, strict=True):
        item.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        item.ReferencedSOPInstanceUID = uid
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.11.1"
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = "9.1", "9.1.2", "9.1.2.3"
    ds.ReferencedSeriesSequence = Sequence([ref])
    return ds


def test_references_at_any_depth_follow_the_uid_map_and_the_sequence_is_kept_as_stored():
    ds = presentation_state(["9.1.1.1", "9.1.1.2"], "9.1.1")
    stored = copy.deepcopy(ds.ReferencedSeriesSequence)
    uid_map = UidMap([("9.1.1.1", "8.1.1.1", "8.1"), ("9.1.1", "8.1.1", "8.1"),
                      ("9.1", "8.1", "8.1")])  # fmt: skip
    edits = correct_dataset(ds, Target("8.1", "8.1.2", "8.1.2.3", {}), uid_map, now=NOW)
    [series] = ds.ReferencedSeriesSequence
    assert series.SeriesInstanceUID == "8.1.1"
    images = [i.ReferencedSOPInstanceUID for i in series.ReferencedImageSequence]
    assert images == ["8.1.1.1", "9.1.1.2"]  # the second image was never renamed
    assert series.ReferencedImageSequence[0].ReferencedSOPClassUID == "1.2.840.10008.5.1.4.1.1.2"
    assert modified(ds).ReferencedSeriesSequence == stored and edits.uids == 3 + 2


def test_an_earlier_original_attributes_sequence_is_kept_and_not_remapped():
    ds = presentation_state(["9.1.1.1"], "9.1.1")
    earlier = Dataset()
    earlier.ModifyingSystem = "ORTHANC"
    earlier.ModifiedAttributesSequence = Sequence([Dataset()])
    earlier.ModifiedAttributesSequence[0].StudyInstanceUID = "9.1"
    ds.OriginalAttributesSequence = Sequence([earlier])
    uid_map = UidMap([("9.1", "8.1", "8.1"), ("9.1.1.1", "8.1.1.1", "8.1")])
    correct_dataset(ds, Target("8.1", "9.1.2", "9.1.2.3", {}), uid_map, now=NOW)
    first, ours = ds.OriginalAttributesSequence
    assert first.ModifiedAttributesSequence[0].StudyInstanceUID == "9.1"
    assert ours.ModifyingSystem == "spokesync"


def test_a_reference_prefers_the_candidate_in_the_referring_objects_own_study():
    uid_map = UidMap([("1.1", "1.1", "S1"), ("1.1", "2.2", "S2"), ("3.3", "4.4", "S4"),
                      ("5.5", "6.6", "S6"), ("5.5", "7.7", "S7")])  # fmt: skip
    assert uid_map.resolve("1.1", "S2") == "2.2"  # a segment's duplicate in this study
    assert uid_map.resolve("1.1", "S9") == "1.1"  # still current elsewhere: kept
    assert uid_map.resolve("3.3", "S9") == "4.4"  # renamed once: followed
    assert uid_map.resolve("5.5", "S9") == "5.5"  # several elsewhere: kept, never guessed
    assert uid_map.resolve("8.8", "S9") == "8.8"  # never renamed


def test_text_the_stored_character_set_lacks_switches_to_utf8_without_garbling_the_rest(ct):
    assert ct.SpecificCharacterSet == "ISO_IR 100"  # Latin-1: no Greek
    description = str(ct.StudyDescription)
    correct_dataset(ct, same_uids(ct, PatientName="Παπαδόπουλος^Νίκος"), UidMap(), now=NOW)
    buffer = io.BytesIO()
    ct.save_as(buffer, enforce_file_format=True)
    back = pydicom.dcmread(io.BytesIO(buffer.getvalue()))
    assert back.SpecificCharacterSet == "ISO_IR 192"
    assert str(back.PatientName) == "Παπαδόπουλος^Νίκος" and back.StudyDescription == description
    assert modified(ct).SpecificCharacterSet == "ISO_IR 100"


def test_text_the_stored_character_set_holds_keeps_it(ct):
    correct_dataset(ct, same_uids(ct, PatientName="Müller^Jörg"), UidMap(), now=NOW)
    assert ct.SpecificCharacterSet == "ISO_IR 100" and "SpecificCharacterSet" not in modified(ct)
