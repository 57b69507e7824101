"""`spokesync review …`: the queue of records waiting for a person, and the decisions."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from spokesync.catalog import read_catalog
from spokesync.catalog.errors import SpokesyncError
from spokesync.catalog.vocabulary import Kind
from spokesync.flows.cli.choices import ListFormat
from spokesync.flows.cli.common import ConfigOpt, console, fail
from spokesync.flows.cli.review_show import print_pairing_template, print_record
from spokesync.flows.console import touching_study
from spokesync.tasks import config as cfg

review_app = typer.Typer(
    help="Records waiting for review: list, show, pairing-template, approve, reject.",
    no_args_is_help=True,
)
ByOpt = Annotated[str | None, typer.Option("--by", help="operator name (default: OS user)")]


@review_app.command("list", epilog="Example: spokesync review list --study 1.2.3")
def review_list(
    study: Annotated[str | None, typer.Option("--study", help="a current or old UID")] = None,
    config: ConfigOpt = None,
) -> None:
    """Pending records: kind, spoke, studies, age and evidence summary (read-only: it
    answers while a run holds the writer lock)."""
    from spokesync.catalog.review import open_reviews, resolve_study  # pyarrow: only now

    try:
        with read_catalog(cfg.load_config(config).catalog) as con:
            rows = open_reviews(con)
            current, resolved = resolve_study(con, study) if study else ([], False)
    except SpokesyncError as exc:
        fail(exc)
    if study:
        rows = touching_study(console, rows, study, current, resolved)
    console.print(_queue(rows))


@review_app.command("show", epilog="Example: spokesync review show 14 --format csv")
def review_show(
    seq: Annotated[int, typer.Argument(help="the record's sequence number")],
    fmt: Annotated[
        ListFormat, typer.Option("--format", help="table, or json/csv with full UIDs")
    ] = ListFormat.table,
    config: ConfigOpt = None,
) -> None:
    """The full evidence of one record (full UIDs) and what approving it will do, or what was
    decided (read-only: it answers while a run holds the writer lock)."""
    print_record(console, _read_record(config, seq), fmt.value)


@review_app.command(
    "pairing-template", epilog="Example: spokesync review pairing-template 21 > pairing.csv"
)
def review_pairing_template(
    seq: Annotated[int, typer.Argument(help="an AMBIGUOUS record's sequence number")],
    config: ConfigOpt = None,
) -> None:
    """CSV old_sop_uid,new_sop_uid with every catalog instance of an ambiguous record; fill
    new_sop_uid from the candidates listed on stderr, then `review approve SEQ --pairing`."""
    found = _read_record(config, seq)
    if found["kind"] != Kind.AMBIGUOUS:
        fail(f"record {seq} is {found['kind']}, not AMBIGUOUS: it needs no pairing file")
    print_pairing_template(found)


@review_app.command(
    "approve", epilog="Example: spokesync review approve 21 --pairing pairing.csv --by ana"
)
def review_approve(
    seq: Annotated[int, typer.Argument(help="the pending record's sequence number")],
    by: ByOpt = None,
    reason: Annotated[str, typer.Option("--reason", help="why, kept in the log")] = "",
    pairing: Annotated[
        Path | None,
        typer.Option("--pairing", help="CSV old_sop_uid,new_sop_uid (review pairing-template)"),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Approve: a UID fix is applied as a move; an ambiguous record needs --pairing FILE."""
    _decide(config, seq, "approve", reason, by, pairing)


@review_app.command("reject", epilog='Example: spokesync review reject 14 --reason "wrong order"')
def review_reject(
    seq: Annotated[int, typer.Argument(help="the pending record's sequence number")],
    reason: Annotated[str, typer.Option("--reason", help="why, kept in the log")],
    by: ByOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Reject: nothing moves; the decision is recorded with its reason."""
    _decide(config, seq, "reject", reason, by, None)


def _read_record(config: Path | None, seq: int) -> dict:
    """One record with its members and the decision taken on it, read-only."""
    from spokesync.catalog.review import decision_of, record  # pyarrow: only now

    try:
        with read_catalog(cfg.load_config(config).catalog) as con:
            found = record(con, seq)
            found["decision"] = decision_of(con, seq)
    except SpokesyncError as exc:
        fail(exc)
    return found


def _decide(config, seq, decision, reason, by, pairing) -> None:
    from spokesync.flows.review import decide  # imports Prefect: only when a decision is taken

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
