"""`spokesync verify`: re-hash nearline against the catalog, all of it or one volume, one
spoke's TARs or those archived since a date, with progress on a terminal."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from spokesync.catalog.errors import SpokesyncError
from spokesync.flows.cli.common import ConfigOpt, WaitOpt, console, fail
from spokesync.tasks import config as cfg

VolumeOpt = Annotated[
    str | None, typer.Option("--volume", help="check only this volume (its name in the config)")
]
SpokeOpt = Annotated[str | None, typer.Option("--spoke", help="check only TARs this spoke sent")]
SinceOpt = Annotated[
    datetime | None,
    typer.Option(
        "--since", formats=["%Y-%m-%d"], help="check only TARs archived on or after this date"
    ),
]


def verify(
    volume: VolumeOpt = None,
    spoke: SpokeOpt = None,
    since: SinceOpt = None,
    config: ConfigOpt = None,
    wait: WaitOpt = False,
) -> None:
    """Re-hash nearline against the catalog: missing, corrupt and orphan TARs (exit 1 if any;
    files the hub moved aside are listed, not counted). --volume, --spoke and --since combine;
    a TAR they leave out is not checked (an orphan is a TAR no catalog row names). Reads the
    catalog read-only: it never takes or waits on the writer lock (--wait is ignored)."""
    from spokesync.flows import console as views
    from spokesync.flows.console_progress import checking_bytes
    from spokesync.tasks.nearline.verify import Scope, verify_nearline

    scope = Scope(volume, spoke, since.date() if since else None)
    seen = {"tars": 0}

    try:
        loaded = cfg.load_config(config)
        with checking_bytes(console, "verifying nearline", "TARs") as update:

            def progress(done: int, total: int, done_bytes: int, total_bytes: int) -> None:
                seen["tars"] = total
                update(done, total, done_bytes, total_bytes)

            findings, checked = verify_nearline(loaded, wait=wait, scope=scope, progress=progress)
    except SpokesyncError as exc:
        fail(exc)
    views.print_findings(console, findings, checked, tars=seen["tars"])
    if any(f.kind != "set_aside" for f in findings):  # files moved aside are kept, not problems
        raise typer.Exit(1)
