"""The drop under simulation, in memory: one entry per instance with its row and pending edits.

Nothing is written until the end: an instance holds the path of its unchanged bytes in the input
drop (or a dataset built in memory), the top-level attributes a PACS would rewrite, and the
UID renames to apply to the references it holds (Orthanc and dcm4chee keep the references
inside a modified study consistent).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset

from simulator.ops import OperationInvalid, PatientRef
from spokesync.tasks.manifest.dicom_headers import INT_COLUMNS, TEXT_COLUMNS
from spokesync.tasks.manifest.drop_read import read_drop
from spokesync.tasks.manifest.schema import PATIENT_COLUMNS, STUDY_COLUMNS

KEYWORDS = {**TEXT_COLUMNS, **INT_COLUMNS}  # manifest column -> DICOM keyword
STUDY_VALUES = ("study_instance_uid", *PATIENT_COLUMNS, *STUDY_COLUMNS)
IDENTITY = ("study_instance_uid", "series_instance_uid", "sop_instance_uid")
# Type 3 attributes are removed when a target has no value; others are written empty (Type 2).
OPTIONAL_KEYWORDS = frozenset(
    ("IssuerOfPatientID", "StudyDescription", "SeriesDescription", "StudyStatusID")
)


def mint_uid(seed: str) -> str:
    """Return `2.25.` + 128 bits of SHA-256(seed) with the top bit set: always 44 characters.

    A fixed length keeps a rewritten object's size independent of which UIDs it got.
    """
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:16], "big") | (1 << 127)
    return f"2.25.{number}"


@dataclass
class Instance:
    """One SOP instance as it stands: its manifest row and how to produce its bytes."""

    row: dict[str, Any]
    origin: Path | None = None  # unchanged bytes in the input drop
    dataset: Dataset | None = None  # or an object built in memory (never mutated)
    edits: dict[str, Any] = field(default_factory=dict)  # top-level keyword -> new value
    ref_map: dict[str, str] = field(default_factory=dict)  # UID in the bytes -> current UID

    @property
    def sop(self) -> str:
        return self.row["sop_instance_uid"]

    @property
    def study(self) -> str:
        return self.row["study_instance_uid"]

    @property
    def changed(self) -> bool:
        """Tell whether the object must be written anew rather than linked."""
        return self.dataset is not None or bool(self.edits) or bool(self.ref_map)

    def clone(self) -> Instance:
        """Return an independent copy (a segment's duplicate starts from one)."""
        return replace(self, row=dict(self.row), edits=dict(self.edits), ref_map=dict(self.ref_map))

    def render(self) -> Dataset:
        """Return the object as the spoke now holds it: bytes read, references and edits applied."""
        if self.dataset is not None:
            ds = copy.deepcopy(self.dataset)
        else:
            ds = pydicom.dcmread(self.origin)
        if self.ref_map:
            remap_references(ds, self.ref_map)
        for keyword, value in self.edits.items():
            if value is None and keyword in OPTIONAL_KEYWORDS:
                if keyword in ds:
                    del ds[keyword]
            else:
                setattr(ds, keyword, "" if value is None else value)
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        return ds


def remap_references(ds: Dataset, ref_map: Mapping[str, str]) -> None:
    """Replace every UI value found in `ref_map`, at any depth (class UIDs never are in it)."""
    for elem in ds.iterall():
        if elem.VR != "UI" or elem.VM == 0:
            continue
        if elem.VM == 1:
            elem.value = ref_map.get(str(elem.value), elem.value)
        else:
            elem.value = [ref_map.get(str(v), v) for v in elem.value]


class DropState:
    """The instances of a drop while operations run, with lookups and UID minting."""

    def __init__(self, drop: Path, seed: str) -> None:
        self.drop = Path(drop).resolve()
        meta = json.loads((self.drop / "manifest.json").read_text("utf-8"))
        loaded = read_drop(self.drop, meta.get("spoke"))
        self.spoke: str = loaded.spoke
        self.generated_at: datetime = loaded.generated_at
        self.instances: dict[str, Instance] = {}
        for row in loaded.manifest.to_pylist():
            self.instances[row["sop_instance_uid"]] = Instance(row, self._origin(row))
        self.deletions: list[dict[str, str]] = []
        self.seed, self.op_index = seed, 0
        self._landed: dict[str, dict[str, str]] = {}  # target study -> renames in this operation
        self._members: dict[str, list[Instance]] = {}

    def _origin(self, row: Mapping[str, Any]) -> Path:
        uri = row.get("object_uri") or ""
        path = self.drop / uri
        if not uri or "://" in uri or not path.is_file():
            raise OperationInvalid(
                f"instance {row['sop_instance_uid']}: object_uri {uri!r} is not a file in the "
                "drop; the simulator needs every object's bytes (build the drop with build_drop)"
            )
        return path

    def study_uids(self) -> list[str]:
        """Return the current study UIDs, sorted."""
        return sorted({inst.study for inst in self.instances.values()})

    def rows_of(self, study: str) -> list[Instance]:
        """Return a study's instances in series/instance number order (empty if unknown)."""
        found = [inst for inst in self.instances.values() if inst.study == study]
        return sorted(found, key=_reading_order)

    def require(self, study: str) -> list[Instance]:
        """Return a study's instances, or refuse an operation that names an unknown study."""
        found = self.rows_of(study)
        if not found:
            raise OperationInvalid(
                f"study {study} is not in the drop; name studies by their current UIDs "
                "(simulator.study_uids of the latest drop)"
            )
        return found

    def studies_of_patient(self, patient_id: str) -> list[str]:
        """Return the current studies of a patient, sorted."""
        found = {i.study for i in self.instances.values() if i.row["patient_id"] == patient_id}
        return sorted(found)

    def study_values(self, study: str) -> dict[str, Any]:
        """Return the patient and study columns a moved instance takes from `study`."""
        first = self.require(study)[0]
        return {column: first.row.get(column) for column in STUDY_VALUES}

    def patient_values(self, ref: PatientRef) -> dict[str, Any]:
        """Return the patient columns of an existing patient, or of a new one from `ref`."""
        studies = self.studies_of_patient(ref.patient_id)
        if studies:
            values = self.study_values(studies[0])
            return {column: values[column] for column in PATIENT_COLUMNS}
        return {"patient_id": ref.patient_id, "issuer_of_patient_id": ref.issuer,
                "patient_name": ref.name, "patient_birth_date": ref.birth_date,
                "patient_sex": ref.sex}  # fmt: skip

    def mint(self, *parts: str) -> str:
        """Return a new UID derived from the seed, the operation's index and `parts`."""
        return mint_uid("|".join((self.seed, f"op-{self.op_index}", *parts)))

    def new_accession(self, *parts: str) -> str:
        """Return a deterministic accession number (SH, 12 characters) for a new study."""
        return "SIM" + self.mint("accession", *parts)[-9:]

    def new_study(self, like: Mapping[str, Any], *parts: str) -> dict[str, Any]:
        """Return the values of a new study that copies `like` but for its UID and accession."""
        origin = like["study_instance_uid"]
        values = dict(like)
        values["study_instance_uid"] = self.mint("study", origin, *parts)
        values["accession_number"] = self.new_accession(origin, *parts)
        return values

    def assign(self, inst: Instance, values: Mapping[str, Any]) -> None:
        """Set manifest columns (and the matching attributes in the object) that differ."""
        for column, value in values.items():
            if inst.row.get(column) != value:
                inst.row[column] = value
                inst.edits[KEYWORDS[column]] = value

    def move(self, inst: Instance, target: Mapping[str, Any], *, renew_series: bool,
             renew_sop: bool, copy: bool = False) -> Instance:  # fmt: skip
        """Re-parent `inst` (or a new copy of it) under the study `target` describes; return it."""
        before = {column: inst.row[column] for column in IDENTITY}
        study = target["study_instance_uid"]
        after = dict(before, study_instance_uid=study)
        if renew_series:
            after["series_instance_uid"] = self.mint("series", before["series_instance_uid"], study)
        if renew_sop or copy:
            after["sop_instance_uid"] = self.mint("sop", before["sop_instance_uid"], study)
        if copy:
            inst = inst.clone()
        else:
            self.remove(inst)
        self.assign(inst, {**target, **after})
        self.add(inst)
        renames = {before[c]: after[c] for c in IDENTITY if before[c] != after[c]}
        self._landed.setdefault(study, {}).update(renames)
        self._members.setdefault(study, []).append(inst)
        return inst

    def add(self, inst: Instance) -> None:
        """Add a new instance (a built object or a duplicate)."""
        if inst.sop in self.instances:
            raise OperationInvalid(f"SOP instance {inst.sop} is already in the drop")
        self.instances[inst.sop] = inst

    def remove(self, inst: Instance) -> None:
        """Remove an instance from the drop."""
        del self.instances[inst.sop]

    def finish_operation(self) -> None:
        """Apply this operation's renames to the references of the objects it moved, per study."""
        for study in sorted(self._landed):
            renames = self._landed[study]
            for inst in self._members[study]:
                known = inst.ref_map
                current = {old: renames.get(new, new) for old, new in known.items()}
                for old, new in renames.items():
                    if old not in known and old not in known.values():
                        current[old] = new
                inst.ref_map = current
        self._landed, self._members = {}, {}
        self.op_index += 1


def select(rows: list[Instance], sop_uids: tuple[str, ...], series_uids: tuple[str, ...],
           study: str) -> list[Instance]:  # fmt: skip
    """Return the instances of `rows` named by SOP UID or by series UID; refuse unknown ones."""
    sops, series = set(sop_uids), set(series_uids)
    unknown = sorted((sops - {i.sop for i in rows}) | (series - {i.row["series_instance_uid"]
                                                                 for i in rows}))  # fmt: skip
    if unknown or not (sops or series):
        raise OperationInvalid(
            f"name at least one instance or series of study {study} by its current UID"
            + (f" ({unknown[0]} is not in it)" if unknown else "")
        )
    return [i for i in rows if i.sop in sops or i.row["series_instance_uid"] in series]


def _reading_order(inst: Instance) -> tuple[int, int, str]:
    row = inst.row
    return (row.get("series_number") or 0, row.get("instance_number") or 0, row["sop_instance_uid"])
