"""Look-ups on a drop's manifest for choosing operations: current studies, patients, instances.

Operations name studies by their current UIDs; after a simulated drop, read its manifest with
`manifest_of` and look the new UIDs up here.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa

from spokesync.tasks.manifest.drop_read import read_drop


def manifest_of(drop: Path) -> pa.Table:
    """Return a drop's validated manifest table (the spoke is taken from its manifest.json)."""
    meta = json.loads((Path(drop) / "manifest.json").read_text("utf-8"))
    return read_drop(Path(drop), meta.get("spoke")).manifest


class DropIndex:
    """A manifest's rows grouped by study and patient, in a stable order."""

    def __init__(self, table: pa.Table) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in table.to_pylist():
            self.rows[row["study_instance_uid"]].append(row)
        for rows in self.rows.values():
            rows.sort(key=_reading_order)
        prints = Counter(row["fingerprint"] for rows in self.rows.values() for row in rows)
        self.shared = {fp for fp, count in prints.items() if fp and count > 1}

    def studies(self) -> list[str]:
        return sorted(self.rows)

    def patients(self) -> list[str]:
        return sorted({rows[0]["patient_id"] for rows in self.rows.values()})

    def patient_of(self, study: str) -> str:
        return self._rows(study)[0]["patient_id"]

    def studies_of(self, patient_id: str) -> list[str]:
        return [s for s in self.studies() if self.rows[s][0]["patient_id"] == patient_id]

    def instances(self, study: str) -> list[str]:
        """Return a study's SOP instance UIDs in series and instance number order."""
        return [row["sop_instance_uid"] for row in self._rows(study)]

    def series(self, study: str) -> list[str]:
        """Return a study's series UIDs in series number order."""
        return list(dict.fromkeys(row["series_instance_uid"] for row in self._rows(study)))

    def images(self, study: str) -> list[str]:
        """Return the SOP UIDs of a study's objects with pixel data."""
        rows = self._rows(study)
        return [r["sop_instance_uid"] for r in rows if (r["fingerprint"] or "").startswith("px1:")]

    def shares_fingerprints(self, study: str) -> bool:
        """Tell whether a fingerprint of the study is also on another instance (twins, copies)."""
        return any(row["fingerprint"] in self.shared for row in self._rows(study))

    def ambiguous_ready(self, study: str) -> bool:
        """Tell whether the study holds twins Ambiguous can move: equal numbers, others beside."""
        rows = self._rows(study)
        counts = Counter(row["fingerprint"] for row in rows if row["fingerprint"])
        twins = [row for row in rows if counts[row["fingerprint"]] > 1]
        numbers: dict[str, set] = defaultdict(set)
        for row in twins:
            numbers[row["fingerprint"]].add((row["series_number"], row["instance_number"]))
        return 0 < len(twins) < len(rows) and all(len(n) == 1 for n in numbers.values())

    def _rows(self, study: str) -> list[dict[str, Any]]:
        if study not in self.rows:
            raise KeyError(f"study {study} is not in the manifest")
        return self.rows[study]


def study_uids(table: pa.Table) -> list[str]:
    """Return the current study UIDs of a manifest, sorted."""
    return DropIndex(table).studies()


def patient_ids(table: pa.Table) -> list[str]:
    """Return the current patient IDs of a manifest, sorted."""
    return DropIndex(table).patients()


def studies_of_patient(table: pa.Table, patient_id: str) -> list[str]:
    """Return a patient's current study UIDs, sorted."""
    return DropIndex(table).studies_of(patient_id)


def instances_of(table: pa.Table, study: str) -> list[str]:
    """Return a study's SOP instance UIDs in series and instance number order."""
    return DropIndex(table).instances(study)


def series_of(table: pa.Table, study: str) -> list[str]:
    """Return a study's series UIDs in series number order."""
    return DropIndex(table).series(study)


def _reading_order(row: dict[str, Any]) -> tuple[int, str, int, str]:
    return (row["series_number"] or 0, row["series_instance_uid"], row["instance_number"] or 0,
            row["sop_instance_uid"])  # fmt: skip
