"""What every `spokesync` command shares: the consoles, the common options, and one way to fail."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from spokesync.catalog.errors import SpokesyncError
from spokesync.tasks import config as cfg

console = Console(width=None if sys.stdout.isatty() else 150)
err_console = Console(stderr=True, soft_wrap=True)

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", help="spokesync.toml to use (default: $SPOKESYNC_CONFIG or ./spokesync.toml)"
    ),
]
WaitOpt = Annotated[
    bool,
    typer.Option(
        "--wait", help="queue behind another catalog writer instead of failing with CatalogLocked"
    ),
]


def fail(exc: Exception | str) -> NoReturn:
    """Print the error in one line and exit 2 (a user's mistake or a refused run)."""
    console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def checked_config(config: Path | None, spoke: str | None = None) -> Path:
    """Read the configuration before Prefect starts (a wrong file stops here, in one line), and
    from then on stop cleanly on Ctrl-C or SIGTERM."""
    from spokesync.flows.cli.signals import stop_cleanly_on_signals

    file = cfg.config_path(config).absolute()
    try:
        loaded = cfg.load_config(file)
        if spoke is not None:
            loaded.spoke(spoke)
    except SpokesyncError as exc:
        fail(exc)
    stop_cleanly_on_signals()
    return file
