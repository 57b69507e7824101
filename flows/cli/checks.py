"""Checks a command makes before any flow or Prefect server starts: a mistyped spoke, a missing
drop folder, a missing configuration or a catalog another writer holds stop the command in one
line with exit 2, in a second or two, and no flow run is left Failed."""

from __future__ import annotations

from pathlib import Path

from spokesync.catalog.errors import ManifestInvalid, SpokesyncError
from spokesync.flows.cli.common import fail
from spokesync.tasks import config as cfg


def checked_config(
    config: Path | None,
    *,
    spoke: str | None = None,
    drop: Path | None = None,
    wait: bool = False,
) -> Path:
    """The configuration file, read and checked with everything the command will need (every
    caller writes the catalog, so the writer lock is checked unless it will --wait); from then
    on Ctrl-C or SIGTERM stops the command cleanly."""
    from spokesync.flows.cli.signals import stop_cleanly_on_signals

    file = cfg.config_path(config).absolute()
    try:
        loaded = cfg.load_config(file)
        if spoke is not None:
            check_drop(loaded, spoke, drop)
        if not wait:
            check_writer_free(loaded.catalog)
    except SpokesyncError as exc:
        fail(exc)
    stop_cleanly_on_signals()
    return file


def check_drop(loaded: cfg.Config, spoke: str, drop: Path | None) -> None:
    """The spoke is configured and, for a drop spoke (or --drop), its folder exists."""
    source = loaded.spoke(spoke)  # an unknown spoke: "did you mean …?"
    folder = Path(drop) if drop else source.drop
    if folder is None:
        if source.source != "drop":
            return  # a PACS spoke is pulled into the run's work folder
        raise ManifestInvalid(
            str(loaded.file), f"spoke {spoke!r} has no drop folder",
            fix=f"pass --drop DIR or set spokes.{spoke}.drop",
        )  # fmt: skip
    if not folder.is_dir():
        given = "--drop" if drop else f"spokes.{spoke}.drop in {loaded.file}"
        raise ManifestInvalid(
            str(folder), f"the drop folder does not exist ({given})",
            fix="point the spoke at the folder that holds manifest.json",
        )  # fmt: skip


def check_writer_free(catalog: Path) -> None:
    """CatalogLocked now, naming the holder, rather than after a flow started."""
    from spokesync.catalog.connection import writer_free

    writer_free(catalog)
