"""The shape of the synthetic archive: study sizes, series, patients, the drop and its changes.

Pure numpy and Python, no I/O: everything is drawn from one seeded generator, so the same
sizes and seed always give the same catalog, drop and night.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa


@dataclass(frozen=True)
class Modality:
    name: str
    sop_class_uid: str
    weight: float  # share of studies
    sizes: tuple[int, int]  # instances per study, inclusive
    series: tuple[int, int]  # series per study, inclusive
    object_size: int  # bytes per object
    log_sizes: bool = False  # cross-sectional studies: sizes spread log-uniformly


# Most studies are small (radiographs, mammograms, ultrasound); CT and MR make the big ones.
MIX = (
    Modality("CR", "1.2.840.10008.5.1.4.1.1.1", 0.22, (1, 4), (1, 2), 10_000_000),
    Modality("DX", "1.2.840.10008.5.1.4.1.1.1.1", 0.13, (1, 4), (1, 2), 12_000_000),
    Modality("MG", "1.2.840.10008.5.1.4.1.1.1.2", 0.08, (4, 8), (1, 4), 30_000_000),
    Modality("US", "1.2.840.10008.5.1.4.1.1.6.1", 0.22, (10, 80), (1, 3), 600_000),
    Modality("MR", "1.2.840.10008.5.1.4.1.1.4", 0.15, (100, 1200), (4, 10), 140_000, True),
    Modality("CT", "1.2.840.10008.5.1.4.1.1.2", 0.20, (100, 2000), (3, 8), 530_000, True),
)
STUDIES_PER_PATIENT = (0.45, 0.25, 0.15, 0.10, 0.05)  # 1 to 5 studies
KINDS = (
    "split-impax", "split-orthanc", "merge-into", "merge-new", "segment-impax",
    "segment-orthanc", "correct-study", "correct-series", "correct-patient", "correct-orthanc",
    "delete-series", "delete-study", "fix-uid-impax", "fix-uid-orthanc", "new-object",
    "new-study",
)  # fmt: skip
SMALL_DELETE = 400  # deleted studies and series stay small, as nightly deletions do


def parse_count(text: str) -> int:
    """`100k`, `1M`, `10M` or a plain number of instances."""
    text = text.strip().lower().replace("_", "")
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * factor)


def plan_studies(instances: int, rng: np.random.Generator) -> pa.Table:
    """Studies whose sizes add up to exactly `instances`, each with its modality and patient."""
    kinds, sizes = _draw_sizes(instances, rng)
    count = len(sizes)
    lows = np.array([MIX[k].series[0] for k in kinds])
    highs = np.array([MIX[k].series[1] for k in kinds])
    n_series = np.minimum(sizes, rng.integers(lows, highs + 1))
    first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return pa.table(
        {
            "study_no": np.arange(count, dtype=np.int64),
            "size": sizes.astype(np.int64),
            "n_series": n_series.astype(np.int64),
            "first_idx": first.astype(np.int64),
            "patient_no": _patients(count, rng),
            "modality": [MIX[k].name for k in kinds],
            "sop_class_uid": [MIX[k].sop_class_uid for k in kinds],
            "object_size": np.array([MIX[k].object_size for k in kinds], dtype=np.int64),
        }
    )


def _draw_sizes(instances: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Modality index and size per study, the last one cut so the sizes add up exactly."""
    weights = np.array([m.weight for m in MIX])
    kinds, sizes = np.empty(0, np.int64), np.empty(0, np.int64)
    while sizes.sum() < instances:
        more = max(16, instances // 150)
        drawn = rng.choice(len(MIX), size=more, p=weights / weights.sum())
        kinds = np.concatenate([kinds, drawn])
        sizes = np.concatenate([sizes, [_size(MIX[k], rng) for k in drawn]])
    cut = int(np.searchsorted(np.cumsum(sizes), instances)) + 1
    kinds, sizes = kinds[:cut], sizes[:cut].copy()
    sizes[-1] -= sizes.sum() - instances
    return kinds, sizes


def _size(modality: Modality, rng: np.random.Generator) -> int:
    """One study's number of instances."""
    low, high = modality.sizes
    if modality.log_sizes:
        return int(np.exp(rng.uniform(np.log(low), np.log(high + 1))))
    return int(rng.integers(low, high + 1))


def _patients(studies: int, rng: np.random.Generator) -> np.ndarray:
    """Patient number per study: each patient has 1 to 5 studies, spread over the archive."""
    per_patient = rng.choice(5, size=studies, p=STUDIES_PER_PATIENT) + 1
    owners = np.repeat(np.arange(studies), per_patient)[:studies]
    return owners[rng.permutation(studies)].astype(np.int64)


def choose_drop(plan: pa.Table, instances: int, rng: np.random.Generator) -> pa.Table:
    """The studies a spoke reports tonight: a random subset with about `instances` instances."""
    sizes = plan.column("size").to_numpy()
    order = rng.permutation(len(sizes))
    cut = int(np.searchsorted(np.cumsum(sizes[order]), instances)) + 1
    chosen = np.sort(order[:cut])
    return plan.take(pa.array(chosen)).select(["study_no", "patient_no", "size", "n_series"])


def schedule(drop: pa.Table, rate: float, rng: np.random.Generator) -> list[tuple[str, tuple]]:
    """(kind, study numbers) per change: `rate` of the drop's studies, at least one per kind.

    No two changes share a study or a patient, so each record is exactly what a detector that
    compares catalog and drop must report.
    """
    rows = drop.to_pylist()
    per_patient: dict[int, int] = {}
    for r in rows:
        per_patient[r["patient_no"]] = per_patient.get(r["patient_no"], 0) + 1
    order = [rows[i] for i in rng.permutation(len(rows))]
    count = max(len(KINDS), round(rate * len(rows)))
    used_patients: set[int] = set()
    plan = []
    for kind in (KINDS[i % len(KINDS)] for i in range(count)):
        needed = {"new-study": 0, "merge-into": 2, "merge-new": 2}.get(kind, 1)
        picked = []
        for r in order:
            if len(picked) == needed:
                break
            if r["patient_no"] not in used_patients and _eligible(kind, r, per_patient):
                picked.append(r)
                used_patients.add(r["patient_no"])
        if len(picked) == needed:
            plan.append((kind, tuple(r["study_no"] for r in picked)))
    return plan


def _eligible(kind: str, study: dict, per_patient: dict[int, int]) -> bool:
    """Whether a change of this kind can apply to the study and keep the truth exact."""
    if kind.startswith(("split", "segment")):
        return study["size"] >= 2
    if kind == "delete-series":
        return study["n_series"] >= 2 and study["size"] <= SMALL_DELETE
    if kind == "delete-study":
        return study["size"] <= SMALL_DELETE // 2
    if kind == "correct-patient":  # every reported study of the patient changes with it
        return per_patient[study["patient_no"]] == 1
    return True
