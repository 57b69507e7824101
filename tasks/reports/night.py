"""What the HTML report opens with: each spoke's last run, and words people read in its tables.

Pure functions over the report tables (pyarrow in, pyarrow or text out): no files, no DuckDB.
"""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc

from spokesync.catalog.vocabulary import Kind

# Report columns as a column header says them; a column not named here gets its own name,
# underscores as spaces.
HEADERS = {
    "seq": "Record",
    "run_id": "Run",
    "spoke_id": "Spoke",
    "kind": "Kind",
    "status": "Status",
    "created_at": "Detected",
    "started_at": "Started",
    "duration_seconds": "Seconds",
    "manifest_rows": "Manifest rows",
    "instances_archived": "New objects",
    "bytes_archived": "Archived",
    "tars_written": "TARs",
    "cc_records": "Records",
    "source_study_uids": "Studies before",
    "target_study_uids": "Studies after",
    "study_instance_uid": "Study",
    "sop_instance_uid": "SOP instance",
    "instance_count": "Instances",
    "attribute_names": "Attributes",
    "patient_changed": "Patient changed",
    "refers_to": "Refers to",
    "decision": "Decision",
    "age_hours": "Age (hours)",
    "owner_spoke": "Owner",
    "volume_name": "Volume",
    "bytes": "Size",
    "total_bytes": "Total size",
    "tars": "TARs",
    "objects": "Objects",
    "detected_at": "Detected",
    "reported_at": "Reported",
    "last_run": "Last run",
    "new_objects": "New objects",
    "records": "Records by kind",
    "pending_reviews": "Pending reviews",
}
BYTE_COLUMNS = frozenset({"bytes", "bytes_archived", "total_bytes", "object_size"})
_UNITS = ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB")


def header(column: str) -> str:
    return HEADERS.get(column, column.replace("_", " ").capitalize())


def human_bytes(count: int | None) -> str:
    """1536 -> '1.5 KiB': binary units, one decimal from KiB up; None -> '' (an empty cell)."""
    if count is None:
        return ""
    value, unit = float(count), 0
    while abs(value) >= 1024 and unit < len(_UNITS) - 1:
        value, unit = value / 1024, unit + 1
    return f"{int(value):,} bytes" if unit == 0 else f"{value:,.1f} {_UNITS[unit]}"


def last_runs(runs: pa.Table) -> dict[str, dict]:
    """Each spoke's most recent run (the runs report's row)."""
    latest: dict[str, dict] = {}
    for row in runs.to_pylist():
        held = latest.get(row["spoke_id"])
        if held is None or row["started_at"] >= held["started_at"]:
            latest[row["spoke_id"]] = row
    return latest


def kinds_text(counts: Counter) -> str:
    """'NEW_OBJECTS 5, ATTRIBUTES 2' in the vocabulary's order; 'none' for a quiet run."""
    named = [f"{kind}\u00a0{counts[kind]}" for kind in Kind if counts[kind]]  # kept on one line
    return ", ".join(named) or "none"


def last_night(runs: pa.Table, changes: pa.Table, pending: pa.Table) -> pa.Table:
    """Per spoke, its last run: when, its status, new objects, records by kind, and the reviews
    the spoke has open now."""
    latest = last_runs(runs)
    run_ids = {row["run_id"] for row in latest.values()}
    kinds: dict[str, Counter] = {spoke: Counter() for spoke in latest}
    for row in changes.select(["run_id", "spoke_id", "kind"]).to_pylist():
        if row["run_id"] in run_ids:
            kinds[row["spoke_id"]][row["kind"]] += 1
    open_reviews = Counter(pending.column("spoke_id").to_pylist())
    rows = [
        {
            "spoke_id": spoke,
            "last_run": run["run_id"],
            "started_at": run["started_at"],
            "status": run["status"],
            "new_objects": run["instances_archived"],
            "records": kinds_text(kinds[spoke]),
            "pending_reviews": open_reviews[spoke],
        }
        for spoke, run in sorted(latest.items())
    ]
    return pa.Table.from_pylist(rows, schema=_SUMMARY_SCHEMA)


def last_night_changes(runs: pa.Table, changes: pa.Table) -> pa.Table:
    """The cc records the spokes' last runs wrote, in sequence order."""
    run_ids = pa.array(sorted(row["run_id"] for row in last_runs(runs).values()), pa.string())
    keep = pc.is_in(changes.column("run_id"), value_set=run_ids)
    return changes.filter(keep)


_SUMMARY_SCHEMA = pa.schema(
    [
        ("spoke_id", pa.string()),
        ("last_run", pa.string()),
        ("started_at", pa.timestamp("us", tz="UTC")),
        ("status", pa.string()),
        ("new_objects", pa.int64()),
        ("records", pa.string()),
        ("pending_reviews", pa.int64()),
    ]
)
