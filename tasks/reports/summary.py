"""A run's Prefect artifacts: its markdown summary and the table of its cc records.

Counts, change kinds, UIDs and attribute names only: attribute values (patient names, birth
dates, IDs) never go into an artifact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow.parquet as pq

if TYPE_CHECKING:
    from spokesync.tasks.reports.tables import RunReport


def run_summary(report: RunReport) -> tuple[str, list[dict]]:
    """The run's markdown summary and cc-record rows: counts, UIDs and attribute names only.

    Attribute values (patient names, birth dates, IDs) never go into an artifact.
    """
    tables = {name: pq.read_table(path).to_pylist() for name, path in report.files.items()}
    run = tables["runs"][0]
    own = [c for c in tables["changes"] if c["run_id"] == report.run_id]
    pending = [p for p in tables["pending_review"] if p["spoke_id"] == report.spoke]
    lines = [
        f"# Run {report.run_id}",
        "",
        f"Spoke **{report.spoke}**, {run['status']}, {run['manifest_rows']} manifest rows.",
        "",
        "| kind | records | instances |",
        "|---|---:|---:|",
        *_kind_rows(own),
        "",
        f"- archived: {run['instances_archived'] or 0} instances in {run['tars_written'] or 0} "
        f"TARs, {run['bytes_archived'] or 0:,} bytes",
        f"- pending review for {report.spoke}: {len(pending)}"
        + (f" (oldest {max(p['age_hours'] for p in pending):.1f} h)" if pending else ""),
        "",
        "## Warnings",
        "",
        *(_warnings(tables) or ["- none"]),
    ]
    return "\n".join(lines) + "\n", [_record_row(c) for c in own]


def _kind_rows(changes: list[dict]) -> list[str]:
    kinds: dict[str, list[int]] = {}
    for change in changes:
        counts = kinds.setdefault(change["kind"], [0, 0])
        counts[0] += 1
        counts[1] += change["instance_count"]
    return [f"| {k} | {n} | {i} |" for k, (n, i) in sorted(kinds.items())] or ["| none | 0 | 0 |"]


def _warnings(tables: dict[str, list[dict]]) -> list[str]:
    owned = {row["seq"] for row in tables["ownership"]}
    policy = tables["ownership"][0]["policy"] if tables["ownership"] else ""
    found = [
        (len(owned), f"record(s) change studies another spoke owns (ownership policy {policy})"),
        (len(tables["stale_copies"]), "stale cop(ies) of studies their owner changed since"),
        (len(tables["discrepancies"]), "manifest row(s) without a fingerprint"),
        *_quality_warnings(tables.get("data_quality", [])),
    ]
    return [f"- {count} {text}" for count, text in found if count]


QUALITY_WARNINGS = {
    "value_over_vr_limit": "value(s) over their VR's length limit, archived as sent",
    "rejected_object": "object(s) the spoke's drop could not read (rejected.parquet)",
    "incomplete_study": "incomplete stud(ies): nothing in them deleted tonight",
    "incomplete_drop": "rejected object(s) name no study: nothing deleted tonight",
}


def _quality_warnings(findings: list[dict]) -> list[tuple[int, str]]:
    """The run's data-quality findings counted by kind (the data_quality report lists them)."""
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding["kind"]] = counts.get(finding["kind"], 0) + 1
    return [
        (counts.get(kind, 0), f"data quality: {text}") for kind, text in QUALITY_WARNINGS.items()
    ]


def _record_row(change: dict) -> dict:
    return {
        "seq": change["seq"],
        "kind": change["kind"],
        "status": change["status"],
        "source_studies": " ".join(change["source_study_uids"]),
        "target_studies": " ".join(change["target_study_uids"]),
        "instances": change["instance_count"],
        "attributes": " ".join(change["attribute_names"]),
    }


def artifact_key(spoke: str, what: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    slug = "".join(ch if ch.isalnum() else "-" for ch in spoke.lower())
    return f"reconcile-{slug}-{what}"


def publish_artifacts(report: RunReport) -> None:
    """The run's Prefect artifacts: a markdown summary and a table of its cc records."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    markdown, records = run_summary(report)
    create_markdown_artifact(
        markdown=markdown,
        key=artifact_key(report.spoke, "summary"),
        description=f"spokesync run {report.run_id}",
    )
    create_table_artifact(
        table=records or [{"seq": None, "kind": "no changes"}],
        key=artifact_key(report.spoke, "changes"),
        description=f"cc records of run {report.run_id}",
    )
