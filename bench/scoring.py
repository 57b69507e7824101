"""Detection precision and recall: cc records found vs the ground truth, as multisets.

A record is compared as (kind, status, source studies, target studies, attributes), the key
tests/support/detection.py uses; a found record matches at most one expected record.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from simulator.truth import GroundTruth
from spokesync.catalog import open_catalog
from spokesync.catalog.changes import list_changes

Key = tuple


def record_key(
    kind: str, status: str, sources: Iterable[str], targets: Iterable[str], attributes: dict | None
) -> Key:
    """The comparable form of one record; attribute values as (old, new) pairs, sorted."""
    attrs = tuple(sorted((k, tuple(v)) for k, v in (attributes or {}).items()))
    return kind, status, tuple(sources), tuple(targets), attrs


def expected_keys(truth: GroundTruth) -> list[Key]:
    """The records a perfect detector reports for this ground truth."""
    return [
        record_key(r.kind, r.status, r.source_study_uids, r.target_study_uids, r.attributes)
        for r in truth.records
    ]


def found_keys(catalog: Path, run_id: str) -> list[Key]:
    """The cc records one run wrote to the catalog at path `catalog`."""
    with open_catalog(catalog) as con:
        records = [r for r in list_changes(con) if r["run_id"] == run_id]
    return [
        record_key(
            r["kind"], r["status"], r["source_study_uids"], r["target_study_uids"], r["attributes"]
        )
        for r in records
    ]


def tally(pairs: Iterable[tuple[list[Key], list[Key]]]) -> dict[str, dict[str, int]]:
    """Per kind: expected, found and matched records, summed over (expected, found) pairs."""
    counts: dict[str, Counter] = {}
    for expected, found in pairs:
        matched = Counter(expected) & Counter(found)
        for name, keys in (("expected", expected), ("found", found), ("matched", matched)):
            for key in keys.elements() if isinstance(keys, Counter) else keys:
                counts.setdefault(key[0], Counter())[name] += 1
    return {kind: dict(c) for kind, c in sorted(counts.items())}


def summary(per_kind: dict[str, dict[str, int]]) -> dict[str, float | int]:
    """Totals with precision (matched / found) and recall (matched / expected)."""
    total = Counter()
    for counts in per_kind.values():
        total.update(counts)
    found, expected, matched = total["found"], total["expected"], total["matched"]
    return {
        "expected": expected,
        "found": found,
        "matched": matched,
        "precision": matched / found if found else 1.0,
        "recall": matched / expected if expected else 1.0,
    }


def table(per_kind: dict[str, dict[str, int]]) -> str:
    """A markdown table: kind, expected, found, matched, precision, recall."""
    lines = [
        "| kind | expected | found | matched | precision | recall |",
        "|---|---|---|---|---|---|",
    ]
    for kind, c in [*per_kind.items(), ("all", summary(per_kind))]:
        e, f, m = c.get("expected", 0), c.get("found", 0), c.get("matched", 0)
        precision = f"{m / f:.4f}" if f else "–"
        recall = f"{m / e:.4f}" if e else "–"
        lines.append(f"| {kind} | {e} | {f} | {m} | {precision} | {recall} |")
    return "\n".join(lines)
