"""`spokesync review …`: the queue of records waiting for a person, and the decisions."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from spokesync.catalog import open_catalog
from spokesync.catalog.errors import SpokesyncError
from spokesync.catalog.review import open_reviews, record, resolve_study
from spokesync.catalog.vocabulary import Kind
from spokesync.flows.cli.common import console, fail
from spokesync.flows.console import touching_study
from spokesync.flows.review import decide
from spokesync.tasks import config as cfg

review_app = typer.Typer(
    help="Records waiting for review: list, show, approve, reject.", no_args_is_help=True
)
ConfigOpt = Annotated[Path | None, typer.Option("--config")]
ByOpt = Annotated[str | None, typer.Option("--by", help="operator name (default: OS user)")]


@review_app.command("list")
def review_list(
    study: Annotated[str | None, typer.Option("--study", help="a current or old UID")] = None,
    config: ConfigOpt = None,
) -> None:
    """Pending records: kind, spoke, studies, age and evidence summary."""
    try:
        with open_catalog(cfg.load_config(config).catalog, wait=True) as con:
            rows = open_reviews(con)
            current, resolved = resolve_study(con, study) if study else ([], False)
    except SpokesyncError as exc:
        fail(exc)
    if study:
        rows = touching_study(console, rows, study, current, resolved)
    console.print(_queue(rows))


@review_app.command("show")
def review_show(seq: int, config: ConfigOpt = None) -> None:
    """The full evidence of one record and what approving it will do."""
    try:
        with open_catalog(cfg.load_config(config).catalog, wait=True) as con:
            found = record(con, seq)
    except SpokesyncError as exc:
        fail(exc)
    _show(console, found)


@review_app.command("approve")
def review_approve(
    seq: int,
    by: ByOpt = None,
    reason: str = "",
    pairing: Annotated[Path | None, typer.Option("--pairing")] = None,
    config: ConfigOpt = None,
) -> None:
    """Approve: a UID fix is applied as a move; an ambiguous record needs --pairing FILE."""
    _decide(config, seq, "approve", reason, by, pairing)


@review_app.command("reject")
def review_reject(
    seq: int,
    reason: Annotated[str, typer.Option("--reason")],
    by: ByOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Reject: nothing moves; the decision is recorded with its reason."""
    _decide(config, seq, "reject", reason, by, None)


def _decide(config, seq, decision, reason, by, pairing) -> None:
    try:
        result = decide(
            str(cfg.config_path(config).absolute()),
            seq,
            decision,
            reason=reason,
            by=by,
            pairing_file=str(pairing) if pairing else None,
        )
    except (SpokesyncError, ValueError, OSError, KeyError) as exc:
        fail(exc)
    verb = "approved" if decision == "approve" else "rejected"
    console.print(
        f"record {seq} {verb} by {result['by']} as record {result['record']}; "
        f"{result['moved']} instance(s) moved"
    )


def _queue(rows: list[dict]) -> Table:
    table = Table(
        "seq",
        "kind",
        "spoke",
        "studies before → after",
        "instances",
        "age",
        "evidence",
        title=f"review queue: {len(rows)} record(s)",
    )
    now = datetime.now(UTC)
    for r in rows:
        age = now - r["created_at"]
        table.add_row(
            str(r["seq"]),
            r["kind"],
            r["spoke"],
            f"{', '.join(r['source_study_uids'])} → {', '.join(r['target_study_uids'])}",
            str(r["instances"]),
            f"{age.days}d {age.seconds // 3600}h",
            _evidence_summary(r["evidence"]),
        )
    return table


def _evidence_summary(evidence: str | None) -> str:
    import json

    data = json.loads(evidence) if evidence else {}
    parts = []
    if "moves" in data:
        moved = sum(m[2] for m in data["moves"])
        copies = sum(m[3] for m in data["moves"])
        parts.append(f"{moved} instances paired" + (f", {copies} copies" if copies else ""))
    if "fingerprints" in data:
        parts.append(
            f"{data['rows']} new rows and {data['instances']} instances share "
            f"{len(data['fingerprints'])} fingerprint(s); numbers cannot tell them apart"
        )
    if "ownership" in data:
        parts.append(f"owned by {', '.join(data['ownership']['owners'])}")
    return "; ".join(parts)


def _show(console: Console, found: dict) -> None:
    console.print(
        f"record {found['seq']}: {found['kind']} ({found['status']}) from spoke "
        f"{found['spoke']}, run {found['run_id']}"
    )
    console.print(
        f"studies: {', '.join(found['source_study_uids']) or '—'} → "
        f"{', '.join(found['target_study_uids']) or '—'}"
    )
    for name, (old, new) in sorted(found["attributes"].items()):
        console.print(f"  {name}: {old!r} → {new!r}")
    table = Table("paired by", "SOP before", "SOP after", "study after", title="instances")
    for m in found["members"]:
        table.add_row(
            m["paired_by"],
            m["old_sop_uid"] or "—",
            m["new_sop_uid"] or "—",
            m["new_study_uid"] or "—",
        )
    console.print(table)
    console.print(_what_approving_does(found))


def _what_approving_does(found: dict) -> str:
    if found["kind"] == Kind.UID_FIX:
        return (
            "approving moves every instance above to the new study UID, writes UID map "
            "rows and marks the old study moved; rejecting changes nothing"
        )
    if found["kind"] == Kind.AMBIGUOUS:
        return (
            "approve with --pairing FILE (CSV old_sop_uid,new_sop_uid) naming which "
            "catalog instance is which new row; rejecting changes nothing"
        )
    return 'this record is held by ownership = "enforce"; see the README'
