"""`spokesync changes …`: the change log, reverting a record, and IOCM rejection notes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from spokesync.catalog.errors import SpokesyncError
from spokesync.flows import console as views
from spokesync.flows.cli.choices import ListFormat
from spokesync.flows.cli.common import ConfigOpt, WaitOpt, console, err_console, fail
from spokesync.flows.console_records import print_records
from spokesync.tasks import config as cfg

changes_app = typer.Typer(
    help="The change log: cc records (change context records, one per detected change).",
    no_args_is_help=True,
)


@changes_app.command(
    "list", epilog="Example: spokesync changes list --spoke north --since 2026-11-01 --format csv"
)
def changes_list(
    spoke: Annotated[str | None, typer.Option("--spoke", help="only this spoke's records")] = None,
    since: Annotated[str | None, typer.Option("--since", help="ISO date or time")] = None,
    fmt: Annotated[ListFormat, typer.Option("--format", help="how to print")] = ListFormat.table,
    study: Annotated[str | None, typer.Option("--study", help="a current or old UID")] = None,
    config: ConfigOpt = None,
    wait: Annotated[bool, typer.Option("--wait", hidden=True, help="ignored: never waits")] = False,
) -> None:
    """The change log: every cc record with its date, kind, status (a pending record a person
    decided shows as approved or rejected), studies before → after and the record it refers
    to. Reads the catalog read-only, so it answers while a run holds the writer lock."""
    from spokesync.catalog import read_catalog
    from spokesync.catalog.changes import list_changes
    from spokesync.catalog.review import resolve_study

    try:
        moment = views.parse_since(since)
        loaded = cfg.load_config(config)
        with read_catalog(loaded.catalog) as con:
            records = list_changes(con, spoke=spoke, since=moment)
            current, resolved = resolve_study(con, study) if study else ([], False)
    except (SpokesyncError, ValueError) as exc:
        fail(exc)
    if study:
        records = views.touching_study(err_console, records, study, current, resolved)
    print_records(console, records, fmt.value)


@changes_app.command("revert", epilog='Example: spokesync changes revert 12 --reason "wrong split"')
def changes_revert(
    seq: Annotated[int, typer.Argument(help="the record to undo")],
    by: Annotated[str | None, typer.Option("--by", help="operator (default: OS user)")] = None,
    reason: Annotated[str, typer.Option("--reason", help="why, kept in the log")] = "",
    config: ConfigOpt = None,
    wait: WaitOpt = False,
) -> None:
    """Undo record SEQ with a compensating record (refused if a later change depends on it)."""
    import getpass

    from spokesync.catalog import open_catalog
    from spokesync.catalog.revert import revert

    try:
        with open_catalog(cfg.load_config(config).catalog, wait=wait) as con:
            compensating = revert(con, seq, by=by or getpass.getuser(), reason=reason)
    except SpokesyncError as exc:
        fail(exc)
    console.print(f"record {seq} reverted by record {compensating}")


@changes_app.command(
    "export-iocm", epilog="Example: spokesync changes export-iocm --since 2026-11-01 --out iocm/"
)
def changes_export_iocm(
    out: Annotated[Path, typer.Option("--out", help="folder for the rejection notes")],
    since: Annotated[str | None, typer.Option("--since", help="ISO date or time")] = None,
    config: ConfigOpt = None,
    wait: WaitOpt = False,
) -> None:
    """One IHE IOCM rejection note (KOS) per study with deletions, as the spoke knew it."""
    from spokesync.catalog import open_catalog
    from spokesync.catalog.iocm import deleted_instances
    from spokesync.tasks.reports.iocm import export_notes

    try:
        moment = views.parse_since(since)
        with open_catalog(cfg.load_config(config).catalog, wait=wait) as con:
            rows = deleted_instances(con, moment)
    except (SpokesyncError, ValueError) as exc:
        fail(exc)
    files = export_notes(rows, out)
    console.print(f"{len(files)} rejection note(s) for {len(rows)} instance(s) written to {out}")
