"""Sample spoke folders made from real objects (pydicom's bundled files) for demos and tests.

Every instance gets fresh deterministic UIDs (`2.25.` + SHA-256 of a seed) and its own pixel
bytes, so each one has a distinct fingerprint; the demographics are obviously fake. The same
spoke always produces the same bytes.
"""

from __future__ import annotations

import copy
import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ImplicitVRLittleEndian

SAMPLE_SPOKES = ("north", "south")  # the demo's drop spokes
PACS_SAMPLE = "east"  # the demo's optional spoke, stored into a local Orthanc (--orthanc)
_ALL_SAMPLES = (*SAMPLE_SPOKES, PACS_SAMPLE)
# UI attributes that name a class or a scheme, not an instance: never remapped.
_CLASS_UIDS = {"SOPClassUID", "ReferencedSOPClassUID", "CodingSchemeUID", "InstanceCreatorUID"}


@dataclass(frozen=True)
class Patient:
    patient_id: str
    name: str
    birth_date: str
    sex: str


@dataclass(frozen=True)
class StudyPlan:
    patient: int
    modality: str  # "CT" or "MR": the image series' source file
    series: tuple[int, ...]  # instances per image series
    extras: tuple[str, ...] = ()  # non-image objects, each in its own series


PATIENTS = {
    "north": (
        Patient("N-1001", "FAKE^ALICE", "19500101", "F"),
        Patient("N-1002", "FAKE^BRUNO", "19620202", "M"),
        Patient("N-1003", "FAKE^CARLA", "19751212", "F"),
    ),
    "south": (
        Patient("S-2001", "FAKE^DORA", "19480303", "F"),
        Patient("S-2002", "FAKE^EMIL", "19590404", "M"),
        Patient("S-2003", "FAKE^FRIDA", "19810505", "F"),
        Patient("S-2004", "FAKE^GUS", "19930606", "M"),
    ),
    "east": (
        Patient("E-3001", "FAKE^HANNA", "19550707", "F"),
        Patient("E-3002", "FAKE^IGOR", "19680808", "M"),
    ),
}
STUDIES = {
    "north": (
        StudyPlan(0, "CT", (15, 15, 15), ("SR",)),
        StudyPlan(1, "MR", (12, 12)),
        StudyPlan(2, "CT", (10, 10, 10, 10)),
        StudyPlan(0, "MR", (10, 10, 10)),
        StudyPlan(1, "CT", (8,), ("RTSTRUCT", "RTPLAN")),
    ),
    "south": (
        StudyPlan(0, "MR", (12, 12, 12), ("SR",)),
        StudyPlan(1, "CT", (15, 15)),
        StudyPlan(2, "CT", (10, 10, 10), ("SR",)),
        StudyPlan(3, "MR", (10, 10, 10, 10)),
        StudyPlan(0, "CT", (8,), ("RTSTRUCT", "RTPLAN")),
    ),
    "east": (
        StudyPlan(0, "CT", (6, 6), ("SR",)),
        StudyPlan(1, "MR", (8,)),
    ),
}
SOURCE_FILES = {
    "CT": "CT_small.dcm",
    "MR": "MR_small.dcm",
    "SR": "reportsi.dcm",
    "RTSTRUCT": "rtstruct.dcm",
    "RTPLAN": "rtplan.dcm",
}


def derived_uid(seed: str) -> str:
    """Return `2.25.` + the first 128 bits of SHA-256(seed) as a decimal integer (≤ 44 chars)."""
    return "2.25." + str(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:16], "big"))


IMPLEMENTATION_UID = derived_uid("spokesync|implementation")  # fixed: bytes must not follow pydicom
# Each non-image kind's own date/time pair (its IOD's module), set per object to keep it distinct.
_CONTENT_DATES = {
    "SR": ("ContentDate", "ContentTime"),
    "RTSTRUCT": ("StructureSetDate", "StructureSetTime"),
    "RTPLAN": ("RTPlanDate", "RTPlanTime"),
}


def write_sample_spoke(spoke: str, out_dir: Path) -> int:
    """Write a spoke's sample objects as `<study>/<series>/<n>.dcm` under `out_dir`; count them."""
    if spoke not in _ALL_SAMPLES:
        raise ValueError(f"unknown sample spoke {spoke!r}; choose one of {_ALL_SAMPLES}")
    written = 0
    for index, plan in enumerate(STUDIES[spoke]):
        study = _Study(spoke, index, plan)
        for relative, ds in study.objects():
            target = Path(out_dir) / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            ds.save_as(target, enforce_file_format=True)
            written += 1
    return written


@functools.cache
def _source(kind: str) -> Dataset:
    """Read a bundled pydicom test file once (rtstruct.dcm has no file meta, hence force)."""
    return pydicom.dcmread(get_testdata_file(SOURCE_FILES[kind]), force=True)


class _Study:
    """One planned study of one spoke: its identity and the objects it holds."""

    def __init__(self, spoke: str, index: int, plan: StudyPlan) -> None:
        self.spoke, self.index, self.plan = spoke, index, plan
        self.patient = PATIENTS[spoke][plan.patient]
        self.seed = f"spokesync-sample|{spoke}|study-{index}"
        self.accession = f"{spoke[0].upper()}{index + 1:04d}"
        self.date = f"2025{index + 3:02d}{_ALL_SAMPLES.index(spoke) * 10 + index + 5:02d}"
        self.frame_of_reference = derived_uid(self.seed + "|frame-of-reference")
        self.images: list[Dataset] = []

    def objects(self) -> list[tuple[str, Dataset]]:
        """Return (relative path, dataset) for every image, then every non-image object."""
        out = []
        for series_index, count in enumerate(self.plan.series):
            for number in range(1, count + 1):
                ds = self._image(series_index, number)
                self.images.append(ds)
                out.append((f"{self.accession}/{series_index + 1}/{number}.dcm", ds))
        for offset, kind in enumerate(self.plan.extras):
            series_number = len(self.plan.series) + offset + 1
            ds = self._non_image(kind, series_number)
            out.append((f"{self.accession}/{series_number}/1.dcm", ds))
        return out

    def _image(self, series_index: int, number: int) -> Dataset:
        """Derive one image from the CT or MR source with its own UIDs and pixel bytes."""
        ds = copy.deepcopy(_source(self.plan.modality))
        series_number = series_index + 1
        self._identify(ds, series_number, number, f"{self.plan.modality} series {series_number}")
        ds.FrameOfReferenceUID = self.frame_of_reference
        position = list(ds.get("ImagePositionPatient", [0, 0, 0]))
        ds.ImagePositionPatient = [*position[:2], round(number * 2.5, 1)]
        ds.SliceLocation = round(number * 2.5, 1)
        ds.PixelData = self._pixels(ds, series_number, number)
        return ds

    def _pixels(self, ds: Dataset, series_number: int, number: int) -> bytes:
        """Shift the source image per series and instance and stamp its indices in 4 pixels."""
        dtype = "<i2" if ds.PixelRepresentation else "<u2"
        image = np.frombuffer(ds.PixelData, dtype=dtype).reshape(ds.Rows, ds.Columns)
        image = np.roll(image, (number * 3, series_number * 5), axis=(0, 1)).copy()
        stamp = (_ALL_SAMPLES.index(self.spoke) + 1, self.index + 1, series_number, number)
        image.flat[:4] = stamp  # guarantees distinct pixel bytes, hence distinct px1 fingerprints
        return image.tobytes()

    def _non_image(self, kind: str, series_number: int) -> Dataset:
        """Derive an SR or RT object; remap the UIDs it holds so its references stay coherent."""
        ds = copy.deepcopy(_source(kind))
        self._remap_instance_uids(ds)
        self._identify(ds, series_number, 1, f"{kind} {self.accession}")
        stamp = f"{10 + series_number:02d}{self.index:02d}00"
        date_keyword, time_keyword = _CONTENT_DATES[kind]
        for keyword, value in (
            ("InstanceCreationDate", self.date),
            (date_keyword, self.date),
            ("InstanceCreationTime", stamp),
            (time_keyword, stamp),
        ):
            setattr(ds, keyword, value)
        if kind == "SR":
            self._point_sr_at_images(ds)
        if kind == "RTPLAN":
            ds.ReferencedStructureSetSequence[0].ReferencedSOPInstanceUID = derived_uid(
                f"{self.seed}|series-{series_number - 1}|instance-1"
            )
        return ds

    def _identify(self, ds: Dataset, series_number: int, number: int, description: str) -> None:
        """Give `ds` this study's patient and study attributes and fresh series/SOP UIDs."""
        patient = self.patient
        ds.PatientID, ds.PatientName = patient.patient_id, patient.name
        ds.PatientBirthDate, ds.PatientSex = patient.birth_date, patient.sex
        ds.IssuerOfPatientID = f"FAKE-{self.spoke.upper()}"
        ds.StudyInstanceUID = derived_uid(self.seed)
        ds.AccessionNumber, ds.StudyID = self.accession, str(self.index + 1)
        ds.StudyDate, ds.StudyTime = self.date, f"{8 + self.index:02d}3000"
        ds.StudyDescription = f"Sample {self.plan.modality} study {self.accession}"
        ds.ReferringPhysicianName, ds.StudyStatusID = "FAKE^REFERRER", "VERIFIED"
        ds.SeriesInstanceUID = derived_uid(f"{self.seed}|series-{series_number}")
        ds.SeriesNumber, ds.SeriesDescription = series_number, description
        ds.InstanceNumber = number
        ds.SOPInstanceUID = derived_uid(f"{self.seed}|series-{series_number}|instance-{number}")
        ds.file_meta = _file_meta(ds)
        ds.preamble = b"\0" * 128

    def _remap_instance_uids(self, ds: Dataset) -> None:
        """Replace every instance UID the source holds, consistently within this study."""
        for elem in ds.iterall():
            if elem.VR != "UI" or elem.keyword in _CLASS_UIDS or elem.VM != 1:
                continue
            if elem.value in ("", "0"):
                continue
            if elem.keyword in ("FrameOfReferenceUID", "ReferencedFrameOfReferenceUID"):
                elem.value = self.frame_of_reference
            else:
                elem.value = derived_uid(f"{self.seed}|{elem.value}")

    def _point_sr_at_images(self, ds: Dataset) -> None:
        """Make the SR's placeholder image references ("0") name images of this study."""
        references = [e for e in ds.iterall() if e.keyword == "ReferencedSOPSequence"]
        for elem, image in zip(references, self.images, strict=False):
            for item in elem.value:
                item.ReferencedSOPClassUID = image.SOPClassUID
                item.ReferencedSOPInstanceUID = image.SOPInstanceUID


def _file_meta(ds: Dataset) -> FileMetaDataset:
    """Return Part 10 file meta for `ds`, keeping its source's transfer syntax."""
    source = getattr(ds, "file_meta", None)
    syntax = source.get("TransferSyntaxUID") if source is not None else None
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = UID(syntax or ImplicitVRLittleEndian)
    meta.ImplementationClassUID = IMPLEMENTATION_UID
    meta.ImplementationVersionName = "SPOKESYNC_1"
    return meta
