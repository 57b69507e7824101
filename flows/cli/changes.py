"""`spokesync changes …`: the change log, reverting a record, and IOCM rejection notes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from spokesync.catalog.errors import SpokesyncError
from spokesync.flows import console as views
from spokesync.flows.cli.common import ConfigOpt, WaitOpt, console, err_console, fail
from spokesync.tasks import config as cfg

changes_app = typer.Typer(help="The change log: list cc records.", no_args_is_help=True)


@changes_app.command("list")
def changes_list(
    spoke: Annotated[str | None, typer.Option("--spoke")] = None,
    since: Annotated[str | None, typer.Option("--since", help="ISO date or time")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    study: Annotated[str | None, typer.Option("--study", help="a current or old UID")] = None,
    config: ConfigOpt = None,
    wait: WaitOpt = False,
) -> None:
    """The change log: every cc record with its kind, status and studies before → after."""
    from spokesync.catalog import open_catalog
    from spokesync.catalog.changes import list_changes
    from spokesync.catalog.review import resolve_study

    try:
        moment = views.parse_since(since)
        loaded = cfg.load_config(config)
        with open_catalog(loaded.catalog, wait=wait) as con:
            records = list_changes(con, spoke=spoke, since=moment)
            current, resolved = resolve_study(con, study) if study else ([], False)
    except (SpokesyncError, ValueError) as exc:
        fail(exc)
    if study:
        records = views.touching_study(err_console, records, study, current, resolved)
    if fmt == "json":
        views.print_json(records)
    else:
        views.print_changes(console, records)


@changes_app.command("revert")
def changes_revert(
    seq: int,
    by: Annotated[str | None, typer.Option("--by", help="operator (default: OS user)")] = None,
    reason: Annotated[str, typer.Option("--reason")] = "",
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


@changes_app.command("export-iocm")
def changes_export_iocm(
    out: Annotated[Path, typer.Option("--out")],
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
