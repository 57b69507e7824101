"""`spokesync retrieve`: a study as the catalog says it is now, to a folder or a DICOM node."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from spokesync.catalog.errors import SpokesyncError
from spokesync.flows.cli.common import ConfigOpt, console, fail
from spokesync.tasks import config as cfg
from spokesync.tasks.reports.night import human_bytes


def retrieve(
    study_uid: Annotated[str, typer.Argument(help="current or old study instance UID")],
    out: Annotated[Path | None, typer.Option("--out", help="folder to write the study to")] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="DICOM node to C-STORE to, as AET@HOST:PORT")
    ] = None,
    config: ConfigOpt = None,
    wait: Annotated[
        bool, typer.Option("--wait", hidden=True, help="ignored: retrieve never takes the lock")
    ] = False,
) -> None:
    """Retrieve STUDY_UID with every change applied: to a folder (--out) or a node (--to).

    Exits 1 when some objects could not be delivered (they are named), 2 on any other error.
    """
    from spokesync.flows.console_progress import counting
    from spokesync.tasks.retrieve.study import retrieve_study

    if (out is None) == (to is None):
        fail("give exactly one destination: --out DIR or --to AET@HOST:PORT")
    try:
        loaded = cfg.load_config(config)
        with counting(console, f"retrieving to {out or to}", "objects") as progress:
            result = retrieve_study(loaded, study_uid, out=out, to=to, progress=progress)
    except (SpokesyncError, ValueError, OSError) as exc:
        fail(exc)
    print_result(result)
    if result.failed:
        raise typer.Exit(1)


def print_result(result) -> None:
    """Print counts, change kinds and UIDs (never patient values) and the failed objects."""
    if result.resolved:
        console.print(
            f"resolved old study UID {result.requested_uid} to {result.study_uid}", highlight=False
        )
    console.print(f"study {result.study_uid} → {result.destination}", highlight=False)
    table = Table()
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("instances sent", f"{result.sent} of {result.instances}")
    table.add_row("stored bytes read", human_bytes(result.stored_bytes))
    for keyword, count in sorted(result.corrected.items()):
        table.add_row(f"corrected {keyword}", str(count))
    table.add_row("remapped UIDs", str(result.remapped_uids))
    for status, count in sorted(result.skipped.items()):
        table.add_row(f"skipped ({status})", str(count))
    if not result.skipped:
        table.add_row("skipped deletions", "0")
    table.add_row("failed", str(len(result.failed)))
    console.print(table)
    for failed in result.failed:
        console.print(
            f"[bold red]failed:[/] {escape(failed.error)}", highlight=False, soft_wrap=True
        )
