"""Operations that create objects: presentation states, secondary captures, twins, new studies.

Objects are built with highdicom (valid IODs, correct SOP classes), then get fixed creation
times and file meta so the same input gives the same bytes, and carry exactly the study's
current patient and study values so a new object never looks like an attribute change.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from simulator.ops import AddObject, AddTwins, NewStudy, OperationInvalid
from simulator.samples import IMPLEMENTATION_UID
from simulator.state import STUDY_VALUES, DropState, Instance
from simulator.truth import APPLIED, ExpectedRecord
from spokesync.tasks.manifest.dicom_headers import manifest_row
from spokesync.tasks.manifest.fingerprints import fingerprint_dataset

MANUFACTURER = "spokesync simulator"
CREATED_DATE, CREATED_TIME = "20261101", "120000"  # fixed, so the same input gives the same bytes
SC_SIZE = 64  # rows and columns of a secondary capture
PR_IMAGES = 3  # images a presentation state refers to
BODY_PART = "CHEST"
_DATES = ("InstanceCreationDate", "ContentDate", "PresentationCreationDate",
          "DateOfSecondaryCapture")  # fmt: skip
_TIMES = ("InstanceCreationTime", "ContentTime", "PresentationCreationTime",
          "TimeOfSecondaryCapture")  # fmt: skip


def apply_add_object(state: DropState, op: AddObject) -> list[ExpectedRecord]:
    """Add a presentation state or a secondary capture to a study, in a new series."""
    rows = state.require(op.study)
    values = state.study_values(op.study)
    series = state.mint("series", op.study, op.kind)
    sop = state.mint("sop", op.study, op.kind)
    number = _next_series_number(rows)
    if op.kind == "PR":
        images = [inst.render() for inst in _images(rows)[:PR_IMAGES]]
        label = state.mint("label")[-8:]
        ds = presentation_state(images, series, sop, number, f"Simulated annotation {label}")
    else:
        ds = secondary_capture(values, series, sop, number, 1, _pixels(state.mint("pixels")))
    add_built(state, ds, values)
    return [ExpectedRecord("NEW_OBJECTS", APPLIED, (), (op.study,), None, {})]


def apply_add_twins(state: DropState, op: AddTwins) -> list[ExpectedRecord]:
    """Add two secondary captures that differ only in their SOP instance UIDs."""
    rows = state.require(op.study)
    values = state.study_values(op.study)
    series = state.mint("series", op.study, "twins")
    number, pixels = _next_series_number(rows), _pixels(state.mint("pixels"))
    first = secondary_capture(
        values, series, state.mint("sop", op.study, "twin-1"), number, 1, pixels
    )
    second = copy.deepcopy(first)
    second.SOPInstanceUID = state.mint("sop", op.study, "twin-2")
    second.file_meta.MediaStorageSOPInstanceUID = second.SOPInstanceUID
    for ds in (first, second):
        add_built(state, ds, values)
    return [ExpectedRecord("NEW_OBJECTS", APPLIED, (), (op.study,), None, {})]


def apply_new_study(state: DropState, op: NewStudy) -> list[ExpectedRecord]:
    """Create a study of secondary captures with fresh pixel data for a patient."""
    if op.n_images < 1:
        raise OperationInvalid("a new study needs at least one image")
    patient = state.patient_values(op.patient)
    study = state.mint("study", "new", patient["patient_id"])
    values: dict[str, Any] = dict.fromkeys(STUDY_VALUES)
    values.update(patient, study_instance_uid=study, study_id="1", study_date=CREATED_DATE,
                  study_time=CREATED_TIME, study_description="Simulated study",
                  accession_number=state.new_accession("new", patient["patient_id"]))  # fmt: skip
    series = state.mint("series", study)
    for number in range(1, op.n_images + 1):
        sop = state.mint("sop", study, str(number))
        pixels = _pixels(state.mint("pixels", str(number)))
        add_built(state, secondary_capture(values, series, sop, 1, number, pixels), values)
    return [ExpectedRecord("NEW_OBJECTS", APPLIED, (), (study,), None, {})]


def add_built(state: DropState, ds: Dataset, values: dict[str, Any]) -> Instance:
    """Add a built object with exactly the study's current patient and study values."""
    _settle(ds)
    row = manifest_row(ds, object_uri="", object_size=0, fingerprint=fingerprint_dataset(ds))
    inst = Instance(row, dataset=ds)
    state.assign(inst, values)
    state.add(inst)
    return inst


def presentation_state(images: list[Dataset], series: str, sop: str, series_number: int,
                       description: str) -> Dataset:  # fmt: skip
    """Build a Grayscale Softcopy Presentation State that refers to `images` (one study)."""
    from highdicom.pr import GrayscaleSoftcopyPresentationState

    ds = GrayscaleSoftcopyPresentationState(
        referenced_images=images, series_instance_uid=series, series_number=series_number,
        sop_instance_uid=sop, instance_number=1, manufacturer=MANUFACTURER,
        manufacturer_model_name="simulator", software_versions="1", device_serial_number="1",
        content_label="SIMULATED", content_description=description,
    )  # fmt: skip
    ds.SeriesDescription = "Presentation state"
    ds.BodyPartExamined = images[0].get("BodyPartExamined") or BODY_PART  # Laterality is 2C
    return ds


def secondary_capture(values: dict[str, Any], series: str, sop: str, series_number: int,
                      instance_number: int, pixels: np.ndarray) -> Dataset:  # fmt: skip
    """Build a Secondary Capture image of a study (patient and study from `values`)."""
    from highdicom.sc import SCImage

    ds = SCImage(
        pixel_array=pixels, photometric_interpretation="MONOCHROME2", bits_allocated=8,
        coordinate_system="PATIENT", patient_orientation=("L", "P"),
        study_instance_uid=values["study_instance_uid"], series_instance_uid=series,
        series_number=series_number, sop_instance_uid=sop, instance_number=instance_number,
        manufacturer=MANUFACTURER, patient_id=values["patient_id"],
        patient_name=values["patient_name"], patient_birth_date=values["patient_birth_date"],
        patient_sex=values["patient_sex"], accession_number=values["accession_number"],
        study_id=values["study_id"], study_date=values["study_date"],
        study_time=values["study_time"],
        referring_physician_name=values["referring_physician_name"],
    )  # fmt: skip
    ds.SeriesDescription = "Secondary capture"
    ds.BodyPartExamined = BODY_PART  # unpaired, so Laterality (Type 2C) is rightly absent
    return ds


def _settle(ds: Dataset) -> None:
    """Replace the creation times and file meta highdicom takes from the clock and itself."""
    for keyword in _DATES:
        if keyword in ds:
            setattr(ds, keyword, CREATED_DATE)
    for keyword in _TIMES:
        if keyword in ds:
            setattr(ds, keyword, CREATED_TIME)
    for item in ds.get("ContributingEquipmentSequence", []):
        item.ContributionDateTime = CREATED_DATE + CREATED_TIME
    ds.file_meta.ImplementationClassUID = IMPLEMENTATION_UID
    ds.file_meta.ImplementationVersionName = "SPOKESYNC_1"


def _images(rows: list[Instance]) -> list[Instance]:
    """Return the images of the study's first series that has any (what a PR can refer to)."""
    images = [inst for inst in rows if (inst.row.get("fingerprint") or "").startswith("px1:")]
    if not images:
        raise OperationInvalid("a presentation state needs an image in the study; add an SC")
    first = images[0].row["series_instance_uid"]
    return [inst for inst in images if inst.row["series_instance_uid"] == first]


def _next_series_number(rows: list[Instance]) -> int:
    return max((inst.row.get("series_number") or 0 for inst in rows), default=0) + 1


def _pixels(seed: str) -> np.ndarray:
    """Return fresh 8-bit pixels derived from `seed` (SHAKE-256, stable across versions)."""
    data = hashlib.shake_256(seed.encode()).digest(SC_SIZE * SC_SIZE)
    return np.frombuffer(data, dtype=np.uint8).reshape(SC_SIZE, SC_SIZE).copy()
