"""Random valid operation sequences for property tests: any kind, either convention.

Each operation picks its studies among the input's studies that no earlier operation of the
sequence involved, and never a study with a fingerprint that another instance of the drop shares
(twins, a segment's duplicates) except for Ambiguous, so the ground truth stays exactly what a
detector comparing the input and the final drop must report.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pyarrow as pa

from simulator.ops import (
    CORRECTABLE,
    REJECTION_REASONS,
    AddObject,
    AddTwins,
    Ambiguous,
    Convention,
    Correct,
    Delete,
    DeleteStudy,
    FixUid,
    Merge,
    NewStudy,
    Operation,
    PatientRef,
    Segment,
    Split,
)
from simulator.views import DropIndex

CONVENTIONS: tuple[Convention, ...] = ("impax", "orthanc")


def random_operations(drop_table: pa.Table, rng: random.Random, count: int) -> list[Operation]:
    """Return `count` operations that apply, in order, to the drop whose manifest is given."""
    picker = _Picker(DropIndex(drop_table), rng)
    choosers: list[Callable[[], Operation | None]] = [
        picker.split, picker.merge, picker.segment, picker.correct, picker.delete,
        picker.delete_study, picker.fix_uid, picker.add_object, picker.add_twins,
        picker.new_study, picker.ambiguous,
    ]  # fmt: skip
    ops: list[Operation] = []
    while len(ops) < count:
        rng.shuffle(choosers)
        op = next(op for choose in choosers if (op := choose()) is not None)  # new_study always
        ops.append(op)
        picker.number += 1
    return ops


class _Picker:
    """Chooses one operation of a kind among what is still free, or returns None."""

    def __init__(self, index: DropIndex, rng: random.Random) -> None:
        self.index, self.rng, self.number = index, rng, 0
        self.twins = {study for study in index.studies() if index.shares_fingerprints(study)}
        self.touched: set[str] = set()
        self.busy: set[str] = set()  # patients that an operation involved (no patient correction)
        self.renamed: set[str] = set()  # patients whose ID or name changed (no longer targets)

    def free(self, min_instances: int = 1) -> list[str]:
        """Return the studies no operation involved yet, without twins, big enough."""
        index = self.index
        return [s for s in index.studies() if s not in self.touched and s not in self.twins
                and len(index.instances(s)) >= min_instances]  # fmt: skip

    def take(self, *studies: str) -> None:
        """Mark studies (and their patients) as involved."""
        self.touched.update(studies)
        self.busy.update(self.index.patient_of(study) for study in studies)

    def tag(self) -> str:
        """Return a short token that makes a new value or ID unique in this sequence."""
        return f"{self.number}{self.rng.randrange(10**4):04d}"

    def convention(self) -> Convention:
        return self.rng.choice(CONVENTIONS)

    def patient(self, exclude: str | None = None) -> PatientRef:
        """Return an existing patient with an untouched study (so its values stand) or a new one."""
        known = [p for p in self.index.patients() if p not in self.renamed | {exclude}
                 and any(s not in self.touched for s in self.index.studies_of(p))]  # fmt: skip
        if known and self.rng.random() < 0.5:
            return PatientRef(self.rng.choice(known))
        tag = self.tag()
        return PatientRef(f"SIM-R{tag}", f"FAKE^RANDOM^{tag}", "19800101", "O", "FAKE-SIM")

    def split(self) -> Split | None:
        studies = self.free(min_instances=2)
        if not studies:
            return None
        study = self.rng.choice(studies)
        owner = self.index.patient_of(study)
        patient = self.patient(exclude=owner)
        self.busy.add(patient.patient_id)
        theirs = [s for s in self.index.studies_of(patient.patient_id) if s in self.free()]
        target = self.rng.choice(theirs) if theirs and self.rng.random() < 0.5 else None
        self.take(study, *([target] if target else []))
        series = self.index.series(study)
        if len(series) > 1 and self.rng.random() < 0.5:
            chosen = self.rng.sample(series, self.rng.randint(1, len(series) - 1))
            return Split(study, patient, series_uids=tuple(sorted(chosen)), target_study=target,
                         convention=self.convention())  # fmt: skip
        sops = self.index.instances(study)
        chosen = self.rng.sample(sops, self.rng.randint(1, len(sops) - 1))
        return Split(study, patient, sop_uids=tuple(sorted(chosen)), target_study=target,
                     convention=self.convention())  # fmt: skip

    def merge(self) -> Merge | None:
        studies = self.free()
        if len(studies) < 2:
            return None
        sources = self.rng.sample(studies, self.rng.randint(2, min(3, len(studies))))
        target = self.rng.choice([*sources, None])
        self.take(*sources)
        return Merge(tuple(sources), target=target, convention=self.convention())

    def segment(self) -> Segment | None:
        studies = self.free(min_instances=2)
        if not studies:
            return None
        study = self.rng.choice(studies)
        self.take(study)
        sops = list(self.index.instances(study))
        self.rng.shuffle(sops)
        parts = self.rng.randint(2, min(3, len(sops)))
        cuts = sorted(self.rng.sample(range(1, len(sops)), parts - 1))
        groups = [sops[a:b] for a, b in zip([0, *cuts], [*cuts, len(sops)], strict=True)]
        for _ in range(self.rng.randint(0, 2)):  # duplicates: copy an instance to a later group
            source = self.rng.randrange(parts - 1)
            extra = self.rng.choice(groups[source])
            later = self.rng.randrange(source + 1, parts)
            if extra not in groups[later]:
                groups[later].append(extra)
        return Segment(study, tuple(tuple(g) for g in groups), keep_first=self.rng.random() < 0.5,
                       convention=self.convention())  # fmt: skip

    def correct(self) -> Correct | None:
        attribute = self.rng.choice(sorted(CORRECTABLE))
        level = CORRECTABLE[attribute]
        if level == "patient":
            return self._correct_patient(attribute)
        studies = self.free()
        if not studies:
            return None
        study = self.rng.choice(studies)
        self.take(study)
        tag = self.tag()
        values = {"study_id": f"9{tag}", "study_description": f"Corrected study {tag}",
                  "series_description": f"Corrected series {tag}"}  # fmt: skip
        key = study if level == "study" else self.rng.choice(self.index.series(study))
        return Correct(level, key, attribute, values[attribute], self.convention())

    def _correct_patient(self, attribute: str) -> Correct | None:
        free = set(self.free())
        patients = [p for p in self.index.patients() if p not in self.busy
                    and set(self.index.studies_of(p)) <= free]  # fmt: skip
        if not patients:
            return None
        patient = self.rng.choice(patients)
        value = f"{patient}-C{self.tag()}"
        if attribute == "patient_name":
            value = f"FAKE^CORRECTED^{self.tag()}"
        elif value in self.index.patients():
            return None
        self.take(*self.index.studies_of(patient))
        self.renamed.add(patient)
        return Correct("patient", patient, attribute, value, self.convention())

    def delete(self) -> Delete | None:
        studies = self.free(min_instances=2)
        if not studies:
            return None
        study = self.rng.choice(studies)
        self.take(study)
        series = self.index.series(study)
        if len(series) > 1 and self.rng.random() < 0.5:
            return Delete(study, series_uids=(self.rng.choice(series),))
        sops = self.index.instances(study)
        count = self.rng.randint(1, min(3, len(sops) - 1))
        return Delete(study, sop_uids=tuple(sorted(self.rng.sample(sops, count))))

    def delete_study(self) -> DeleteStudy | None:
        studies = self.free()
        if not studies:
            return None
        study = self.rng.choice(studies)
        self.take(study)
        return DeleteStudy(study, reason_code=self.rng.choice(sorted(REJECTION_REASONS)))

    def fix_uid(self) -> FixUid | None:
        studies = self.free()
        if not studies:
            return None
        study = self.rng.choice(studies)
        self.take(study)
        accession = f"FIX{self.number:03d}{self.rng.randrange(10**6):06d}"
        return FixUid(study, accession, convention=self.convention())

    def add_object(self) -> AddObject | None:
        studies = self.free()
        if not studies:
            return None
        study = self.rng.choice(studies)
        self.take(study)
        kind = "PR" if self.index.images(study) and self.rng.random() < 0.5 else "SC"
        return AddObject(study, kind=kind, convention=self.convention())

    def add_twins(self) -> AddTwins | None:
        studies = self.free()
        if not studies:
            return None
        study = self.rng.choice(studies)
        self.take(study)
        return AddTwins(study)

    def new_study(self) -> NewStudy:
        patient = self.patient()
        self.busy.add(patient.patient_id)
        return NewStudy(patient, n_images=self.rng.randint(1, 3), convention=self.convention())

    def ambiguous(self) -> Ambiguous | None:
        studies = [s for s in sorted(self.twins)
                   if s not in self.touched and self.index.ambiguous_ready(s)]  # fmt: skip
        if not studies:
            return None
        study = self.rng.choice(studies)
        self.take(study)
        return Ambiguous(study)
