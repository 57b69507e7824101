"""cc records as the command line prints them: a table (dates, short UIDs), JSON or CSV (full
UIDs, exact values). Counts, UIDs, kinds and attribute names only, never patient values."""

from __future__ import annotations

import csv
import json
import sys
from datetime import datetime

from rich.console import Console
from rich.table import Table

CSV_COLUMNS = ("seq", "created_at", "spoke", "kind", "status", "refers_to", "decided_in",
               "decided_by", "source_study_uids", "target_study_uids", "instances",
               "attributes")  # fmt: skip


def print_records(console: Console, records: list[dict], fmt: str) -> None:
    """Records as a table, JSON (one document) or CSV (one row per record, lists joined by
    spaces, attribute names only)."""
    if fmt == "json":
        print_json(records)
    elif fmt == "csv":
        print_csv(records)
    else:
        print_changes(console, records)


def print_json(records: list[dict] | dict) -> None:
    """JSON to standard output, one document, machine-readable (times as ISO-8601)."""
    json.dump(records, sys.stdout, indent=2, default=_iso)
    sys.stdout.write("\n")


def print_csv(records: list[dict]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in records:
        writer.writerow([_cell(name, r.get(name)) for name in CSV_COLUMNS])


def _cell(name: str, value) -> str:
    if value is None:
        return ""
    if name == "attributes":
        return " ".join(sorted(value))  # names only: values may be demographics
    if isinstance(value, list):
        return " ".join(map(str, value))
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _iso(value):
    return value.isoformat()


def print_changes(console: Console, records: list[dict]) -> None:
    """The change log as a table: date, kind, status, the record it refers to, studies."""
    table = Table(
        "seq", "date", "spoke", "kind", "status", "refers to", "studies before → after",
        "instances", "attributes", title=f"change log: {len(records)} cc record(s)",
    )  # fmt: skip
    for r in records:
        table.add_row(
            str(r["seq"]),
            f"{r['created_at']:%Y-%m-%d %H:%M}",
            r["spoke"],
            r["kind"],
            r["status"],
            str(r["refers_to"]) if r.get("refers_to") is not None else "",
            f"{short(r['source_study_uids'])} → {short(r['target_study_uids'])}",
            str(r["instances"]),
            ", ".join(sorted(r["attributes"])),
        )
    console.print(table)


def short(uids: list[str]) -> str:
    """UIDs shortened for a table (JSON and CSV carry them in full)."""
    return ", ".join(f"…{u[-8:]}" for u in uids) or "—"
