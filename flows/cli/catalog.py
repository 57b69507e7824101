"""`spokesync catalog …`: rebuild a lost catalog from nearline; `init` marks a fresh hub."""

from __future__ import annotations

from pathlib import Path

import typer

from spokesync.catalog.errors import SpokesyncError
from spokesync.flows.cli.common import ConfigOpt, console, fail
from spokesync.tasks import config as cfg

catalog_app = typer.Typer(help="Rebuild the catalog from nearline.", no_args_is_help=True)


def mark_new_hub(file: Path) -> str:
    """Create the catalog and write the volumes' markers (a hub that already has them is only
    checked); returns the hub id."""
    from spokesync.catalog import open_catalog
    from spokesync.tasks.nearline.hub_check import ensure_nearline

    config = cfg.load_config(file)
    with open_catalog(config.catalog) as con:
        return ensure_nearline(con, config)


@catalog_app.command("rebuild", epilog="Example: spokesync catalog rebuild")
def rebuild(config: ConfigOpt = None) -> None:
    """Index every nearline TAR into a new catalog (an existing one is moved aside)."""
    from spokesync.tasks.nearline.rebuild import rebuild_catalog

    try:
        loaded = cfg.load_config(config)
        result = rebuild_catalog(loaded)
    except SpokesyncError as exc:
        fail(exc)
    if result["moved_aside"]:
        console.print(f"the previous catalog was moved to {result['moved_aside']}")
    console.print(
        f"catalog {loaded.catalog} rebuilt for hub {result['hub_id']}: "
        f"{result.get('objects', 0)} objects in {result.get('tars', 0)} TARs of "
        f"{result.get('runs', 0)} runs. Corrections, moves and deletions come back with "
        "each spoke's next reconcile; run `spokesync verify` to re-hash every TAR"
    )
