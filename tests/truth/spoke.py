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

from tests.support.builders import uid
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
    deletions: list[dict] = field(default_factory=list)  # rows for the next drop
    frozen_patients: set[str] = field(default_factory=set)  # some study aged out
    touched: set[str] = field(default_factory=set)  # studies an operation changed tonight

    @property
    def aged(self) -> Path:
        return self.folder.parent / f"{self.folder.name}-aged"

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

    def save(self, ds: Dataset) -> Path:
        return objects.save(ds, self.folder)

    def delete(self, path: Path) -> None:
        path.unlink()

    def held(self, *, everything: bool = False) -> dict[str, list[tuple[Path, Dataset]]]:
        """{study UID: [(file, dataset)]} of the studies the spoke holds in its cache and no
        operation changed tonight (every held study with `everything`): one night's operations
        touch distinct studies, so the records each implies stay its own."""
        found: dict[str, list[tuple[Path, Dataset]]] = {}
        for path, ds in self.objects():
            found.setdefault(str(ds.StudyInstanceUID), []).append((path, ds))
        if everything:
            return found
        return {study: objs for study, objs in found.items() if study not in self.touched}

    def age_out(self, study: str) -> None:
        """Move a study out of the cache (the hub is no longer told about it) into `aged`."""
        aged = self.aged / study
        aged.mkdir(parents=True)
        for path, _ds in self.objects(study):
            path.rename(aged / path.name)

    def aged_studies(self) -> dict[str, dict[str, dict]]:
        """{study UID: {SOP UID: facts}} of the studies that left the cache."""
        if not self.aged.exists():
            return {}
        return {d.name: by_sop(sorted(d.glob("*.dcm"))) for d in sorted(self.aged.iterdir())}

    def facts(self, study: str | None = None) -> dict[str, dict]:
        """{SOP UID: facts} of what the spoke holds (tests/truth/compare.py)."""
        return by_sop(path for path, _ in self.objects(study))


def series_of(objs: list[tuple[Path, Dataset]]) -> dict[str, list[tuple[Path, Dataset]]]:
    """{series UID: objects}, in series-number order."""
    ordered = sorted(objs, key=lambda o: (int(o[1].get("SeriesNumber") or 0), o[0].name))
    found: dict[str, list[tuple[Path, Dataset]]] = {}
    for path, ds in ordered:
        found.setdefault(str(ds.SeriesInstanceUID), []).append((path, ds))
    return found


def values_of(ds: Dataset, keywords) -> dict[str, str | None]:
    """{keyword: value as stored, None when absent} for copying values from object to object."""
    return {k: (ds[k].value if k in ds else None) for k in keywords}
