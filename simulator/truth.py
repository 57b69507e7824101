"""The simulator's ground truth: the cc records a perfect detector must report for a sequence.

Written beside the drop as ground_truth.json (UIDs and codes only, never demographics) so that
detection tests, the demo and benchmarks can compare what a run found with what happened.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

APPLIED, PENDING = "applied", "pending_review"


@dataclass(frozen=True)
class ExpectedRecord:
    """One change a run must detect: its kind, status, studies before/after and instance map.

    `moved` maps an instance's SOP UID before to its SOP UIDs after (several for a segment's
    duplicates, the candidates for an ambiguous pairing, none for a deletion).
    """

    kind: str
    status: str
    source_study_uids: tuple[str, ...]
    target_study_uids: tuple[str, ...]
    attributes: dict[str, tuple[str | None, str | None]] | None = None
    moved: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Return the record as plain JSON values (tuples become lists)."""
        attributes = None
        if self.attributes is not None:
            attributes = {name: list(pair) for name, pair in sorted(self.attributes.items())}
        return {
            "kind": self.kind,
            "status": self.status,
            "source_study_uids": list(self.source_study_uids),
            "target_study_uids": list(self.target_study_uids),
            "attributes": attributes,
            "moved": {old: list(new) for old, new in sorted(self.moved.items())},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExpectedRecord:
        """Rebuild a record written by to_json."""
        attributes = data.get("attributes")
        return cls(
            kind=data["kind"],
            status=data["status"],
            source_study_uids=tuple(data["source_study_uids"]),
            target_study_uids=tuple(data["target_study_uids"]),
            attributes=None if attributes is None else {k: tuple(v) for k, v in attributes.items()},
            moved={old: list(new) for old, new in data.get("moved", {}).items()},
        )


@dataclass(frozen=True)
class GroundTruth:
    """What a sequence of operations did to a drop, in the order the operations ran."""

    spoke: str
    generated_at: str
    records: list[ExpectedRecord]

    def kinds(self) -> list[str]:
        """Return the records' kinds in order (handy in assertions)."""
        return [record.kind for record in self.records]

    def write(self, file: Path) -> Path:
        """Write the truth as stable, sorted JSON."""
        data = {
            "spoke": self.spoke,
            "generated_at": self.generated_at,
            "records": [record.to_json() for record in self.records],
        }
        Path(file).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", "utf-8")
        return Path(file)

    @classmethod
    def read(cls, file: Path) -> GroundTruth:
        """Read ground_truth.json back."""
        data = json.loads(Path(file).read_text("utf-8"))
        records = [ExpectedRecord.from_json(item) for item in data["records"]]
        return cls(data["spoke"], data["generated_at"], records)
