"""The sample spokes are real, valid, deterministic DICOM objects with distinct fingerprints."""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from pathlib import Path

import pydicom
import pytest

from simulator.samples import SAMPLE_SPOKES, write_sample_spoke
from spokesync.tasks.manifest.fingerprints import read_with_fingerprint

UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
NON_IMAGE_MODALITIES = {"SR", "RTSTRUCT", "RTPLAN"}


@pytest.fixture(scope="module")
def objects(sample_sources) -> dict[str, list[tuple[str, pydicom.Dataset]]]:
    """Every sample object per spoke as (fingerprint, header)."""
    return {
        spoke: [read_with_fingerprint(path) for path in sorted(folder.rglob("*.dcm"))]
        for spoke, folder in sample_sources.items()
    }


def digests(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_samples_are_byte_for_byte_deterministic(tmp_path, sample_sources):
    count = write_sample_spoke("north", tmp_path / "again")
    again = digests(tmp_path / "again")
    assert count == len(again) == 150
    assert again == digests(sample_sources["north"])


def test_every_sample_instance_has_a_distinct_fingerprint(objects):
    prints = [fingerprint for spoke in SAMPLE_SPOKES for fingerprint, _ in objects[spoke]]
    assert len(prints) == 150 + 148
    assert len(set(prints)) == len(prints)


def test_each_spoke_has_several_patients_studies_and_series(objects):
    for spoke in SAMPLE_SPOKES:
        studies: dict[str, set[str]] = defaultdict(set)
        patients = set()
        for _, ds in objects[spoke]:
            studies[ds.StudyInstanceUID].add(ds.SeriesInstanceUID)
            patients.add(ds.PatientID)
        assert len(patients) >= 3 and len(studies) >= 4
        assert all(2 <= len(series) <= 4 for series in studies.values())


def test_each_spoke_has_non_image_objects_with_dataset_fingerprints(objects):
    for spoke in SAMPLE_SPOKES:
        non_images = [(fp, ds) for fp, ds in objects[spoke] if ds.Modality in NON_IMAGE_MODALITIES]
        assert len(non_images) >= 3
        assert all(fp.startswith("ds1:") and "PixelData" not in ds for fp, ds in non_images)


def test_spokes_share_no_sop_instance_uid(objects):
    north, south = ({ds.SOPInstanceUID for _, ds in objects[spoke]} for spoke in SAMPLE_SPOKES)
    assert len(north) == 150 and len(south) == 148
    assert not north & south


def test_sample_files_are_part10_with_matching_file_meta(objects):
    for spoke in SAMPLE_SPOKES:
        for _, ds in objects[spoke]:
            assert ds.preamble == b"\0" * 128
            assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
            assert ds.file_meta.MediaStorageSOPClassUID == ds.SOPClassUID
            for uid in (ds.SOPInstanceUID, ds.SeriesInstanceUID, ds.StudyInstanceUID):
                assert UID.match(uid) and len(uid) <= 64


def test_sample_demographics_are_obviously_fake(objects):
    names = {str(ds.PatientName) for spoke in SAMPLE_SPOKES for _, ds in objects[spoke]}
    assert names and all(name.startswith("FAKE^") for name in names)


def test_structured_report_references_images_of_its_own_study(objects):
    headers = [ds for _, ds in objects["north"]]
    sops = {ds.SOPInstanceUID: ds.StudyInstanceUID for ds in headers}
    report = next(ds for ds in headers if ds.Modality == "SR")
    referenced = [e.value for e in report.iterall() if e.keyword == "ReferencedSOPInstanceUID"]
    assert referenced and all(sops[uid] == report.StudyInstanceUID for uid in referenced)


def test_unknown_spoke_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown sample spoke 'west'"):
        write_sample_spoke("west", tmp_path)
    assert not any(tmp_path.iterdir())
