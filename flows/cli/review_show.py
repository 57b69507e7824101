"""`spokesync review show` and `review pairing-template`: one record with full UIDs, as a table,
JSON or CSV, and the pairing file a person fills for an ambiguous record."""

from __future__ import annotations

import csv
import sys

from rich.console import Console
from rich.table import Table

from spokesync.catalog.vocabulary import Kind, Status
from spokesync.flows.console_records import print_json

MEMBER_COLUMNS = ("paired_by", "old_sop_uid", "old_series_uid", "old_study_uid", "new_sop_uid",
                  "new_series_uid", "new_study_uid")  # fmt: skip


def print_record(console: Console, found: dict, fmt: str) -> None:
    """One record: JSON (the record, its members and its state), CSV (one row per member, full
    UIDs) or a table a person reads."""
    if fmt == "json":
        print_json(found | {"state": state_of(found)})
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(MEMBER_COLUMNS)
        for m in found["members"]:
            writer.writerow([m[name] or "" for name in MEMBER_COLUMNS])
    else:
        _show(console, found)


def state_of(found: dict) -> str:
    """pending_review, approved or rejected (derived from the decision record), or the status."""
    decision = found.get("decision")
    if found["status"] != Status.PENDING_REVIEW or decision is None:
        return found["status"]
    return "approved" if decision["status"] == Status.APPLIED else "rejected"


def _show(console: Console, found: dict) -> None:
    console.print(
        f"record {found['seq']}: {found['kind']} ({state_of(found)}) from spoke "
        f"{found['spoke']}, run {found['run_id']}, {found['created_at']:%Y-%m-%d %H:%M}",
        highlight=False,
    )
    if found.get("refers_to") is not None:
        console.print(f"refers to record {found['refers_to']}", highlight=False)
    console.print(
        f"studies: {', '.join(found['source_study_uids']) or '—'} → "
        f"{', '.join(found['target_study_uids']) or '—'}",
        highlight=False,
        soft_wrap=True,
    )
    for name, (old, new) in sorted(found["attributes"].items()):
        console.print(f"  {name}: {old!r} → {new!r}", highlight=False)
    table = Table("paired by", "SOP before", "SOP after", "study after", title="instances")
    for column in table.columns[1:]:
        column.overflow = "fold"  # full UIDs at any width, folded, never cut
    for m in found["members"]:
        table.add_row(
            m["paired_by"], m["old_sop_uid"] or "—", m["new_sop_uid"] or "—",
            m["new_study_uid"] or "—",
        )  # fmt: skip
    console.print(table)
    console.print(what_it_means(found), highlight=False)


def what_it_means(found: dict) -> str:
    """What approving does for a pending record; for any other, what happened to it."""
    decision = found.get("decision")
    if decision is not None:
        verb = "approved" if decision["status"] == Status.APPLIED else "rejected"
        return (
            f"{verb} by {decision['decided_by']} at {decision['decided_at']:%Y-%m-%d %H:%M} "
            f"(record {decision['seq']}); nothing waits for review"
        )
    if found["status"] != Status.PENDING_REVIEW:
        return f"this record is {found['status']}; nothing waits for review"
    if found["kind"] == Kind.UID_FIX:
        return (
            "approving moves every instance above to the new study UID, writes UID map "
            "rows and marks the old study moved; rejecting changes nothing"
        )
    if found["kind"] == Kind.AMBIGUOUS:
        return (
            "approve with --pairing FILE (CSV old_sop_uid,new_sop_uid; "
            f"`spokesync review pairing-template {found['seq']} > pairing.csv` writes one to "
            "fill) naming which catalog instance is which new row; rejecting changes nothing"
        )
    if found["kind"] == Kind.DELETE:
        return "a non-owner's deletion: approving marks the instances deleted (bytes stay)"
    return 'this record is held by ownership = "enforce"; see the README'


def print_pairing_template(found: dict) -> None:
    """old_sop_uid filled (every catalog instance once), new_sop_uid empty; the candidates for
    new_sop_uid go to stderr, so `> pairing.csv` keeps only the CSV."""
    olds = sorted(m["old_sop_uid"] for m in found["members"] if m["instance_id"] is not None)
    news = sorted(m["new_sop_uid"] for m in found["members"] if m["instance_id"] is None)
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(("old_sop_uid", "new_sop_uid"))
    for old in olds:
        writer.writerow((old, ""))
    print(
        f"fill new_sop_uid with each of these {len(news)} new rows once, then run "
        f"`spokesync review approve {found['seq']} --pairing FILE`:\n" + "\n".join(news),
        file=sys.stderr,
    )
