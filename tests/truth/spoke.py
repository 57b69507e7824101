"""A spoke held as a folder of real DICOM files (one file per SOP instance), as a PACS holds it.

The hub sees it only through `spokesync manifest build`. Operations (tests/truth/operations.py)
rewrite these files the way IMPAX or Orthanc would.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset

from tests.support import uid
from tests.truth import objects
from tests.truth.compare import by_sop


@dataclass
class Series:
    modality: str
    count: int
    values: dict[str, str | None] = field(default_factory=dict)


@dataclass
class FileSpoke:
    """The spoke's file store; UIDs are minted deterministically from `name` and a counter."""

    folder: Path
    name: str = "spoke"
    minted: int = 0

    def mint(self, kind: str = "uid") -> str:
        self.minted += 1
        return uid(self.name, kind, self.minted)

    def add_study(
        self,
        patient_id: str,
        patient: dict[str, str | None],
        study: dict[str, str | None],
        series: list[Series],
        *,
        study_uid: str | None = None,
    ) -> str:
        """Write a study of `series`; each series' values override the study's. Its UID."""
        study_uid = study_uid or self.mint("study")
        for number, spec in enumerate(series, start=1):
            self.add_series(patient_id, study_uid, number, spec, {**patient, **study})
        return study_uid

    def add_series(self, patient_id, study_uid, number, spec: Series, values) -> str:
        series_uid = self.mint("series")
        for n in range(1, spec.count + 1):
            sop = self.mint("sop")
            ds = objects.image(
                spec.modality, patient_id=patient_id, study=study_uid, series=series_uid,
                sop=sop, series_number=number, instance_number=n,
                values={**values, **spec.values}, seed=sop,
            )  # fmt: skip
            objects.save(ds, self.folder)
        return series_uid

    def paths(self) -> list[Path]:
        return sorted(self.folder.glob("*.dcm"))

    def objects(self, study: str | None = None) -> Iterator[tuple[Path, Dataset]]:
        """(file, dataset) of every object, or of one study's."""
        for path in self.paths():
            ds = pydicom.dcmread(path)
            if study is None or ds.StudyInstanceUID == study:
                yield path, ds

    def rewrite(self, path: Path, ds: Dataset) -> Path:
        """Replace an object's file (its name follows its SOP UID, as a PACS's store would)."""
        path.unlink()
        return objects.save(ds, self.folder)

    def delete(self, path: Path) -> None:
        path.unlink()

    def studies(self) -> dict[str, list[Path]]:
        held: dict[str, list[Path]] = {}
        for path, ds in self.objects():
            held.setdefault(str(ds.StudyInstanceUID), []).append(path)
        return held

    def facts(self, study: str | None = None) -> dict[str, dict]:
        """{SOP UID: facts} of what the spoke holds (tests/truth/compare.py)."""
        return by_sop(path for path, _ in self.objects(study))
