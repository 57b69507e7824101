"""Ready-made operations for tests and the demo, e.g. `split_half(table, study, "orthanc")`.

Each takes the manifest table of the drop the operation will be applied to and returns one
operation; nothing here touches files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pyarrow as pa

from simulator.ops import (
    Convention,
    Delete,
    FixUid,
    Merge,
    OperationInvalid,
    PatientRef,
    Segment,
    Split,
)
from simulator.views import DropIndex


def new_patient(tag: str) -> PatientRef:
    """Return an obviously fake new patient whose ID and name derive from `tag`."""
    digest = hashlib.sha256(tag.encode()).hexdigest()[:8].upper()
    return PatientRef(f"SIM-{digest}", f"FAKE^MOVED^{digest}", "19700101", "O", "FAKE-SIM")


def split_half(table: pa.Table, study: str, convention: Convention = "impax", *,
               to_patient: PatientRef | None = None,
               target_study: str | None = None) -> Split:  # fmt: skip
    """Move the later half of a study's series (of its instances if it has one series)."""
    index = DropIndex(table)
    patient = to_patient or new_patient(study)
    series = index.series(study)
    if len(series) >= 2:
        chosen = tuple(series[len(series) // 2 :])
        return Split(study, patient, series_uids=chosen, target_study=target_study,
                     convention=convention)  # fmt: skip
    sops = index.instances(study)
    if len(sops) < 2:
        raise OperationInvalid(f"study {study} has one instance; a split needs two")
    return Split(study, patient, sop_uids=tuple(sops[len(sops) // 2 :]),
                 target_study=target_study, convention=convention)  # fmt: skip


def merge_studies(table: pa.Table, studies: Sequence[str], convention: Convention = "impax", *,
                  into_first: bool = True) -> Merge:  # fmt: skip
    """Merge studies into the first of them (or, with into_first=False, into a new study)."""
    index = DropIndex(table)
    for study in studies:
        index.instances(study)  # raises for an unknown study
    target = studies[0] if into_first else None
    return Merge(tuple(studies), target=target, convention=convention)


def segment_in_two(table: pa.Table, study: str, convention: Convention = "impax", *,
                   duplicates: int = 1, keep_first: bool = True) -> Segment:  # fmt: skip
    """Split a study's instances in two halves; the first `duplicates` also go to the second."""
    sops = DropIndex(table).instances(study)
    if len(sops) < 2:
        raise OperationInvalid(f"study {study} has one instance; a segment needs two")
    half = len(sops) // 2
    first, second = sops[:half], sops[half:] + sops[: min(duplicates, half)]
    return Segment(study, (tuple(first), tuple(second)), keep_first=keep_first,
                   convention=convention)  # fmt: skip


def delete_last_series(table: pa.Table, study: str) -> Delete:
    """Delete the study's last series (by series number)."""
    series = DropIndex(table).series(study)
    if len(series) < 2:
        raise OperationInvalid(f"study {study} has one series; delete instances or the study")
    return Delete(study, series_uids=(series[-1],))


def fix_uid(table: pa.Table, study: str, convention: Convention = "impax") -> FixUid:
    """Match the study to an order: a new accession number derived from its UID."""
    DropIndex(table).instances(study)
    digits = str(int(hashlib.sha256(study.encode()).hexdigest(), 16))[-9:]
    return FixUid(study, f"FIX{digits}", convention=convention)
