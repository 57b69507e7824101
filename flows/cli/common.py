"""What every `spokesync` command shares: the consoles, the common options, and one way to fail."""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

console = Console(width=None if sys.stdout.isatty() else 150)
err_console = Console(stderr=True, soft_wrap=True)
USER_MISTAKE = 2
state = {"debug": False}  # set by the global --debug option before any command runs

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
    """Say a user-facing error in one line and stop with exit 2 (a user's mistake or a refused
    run); with the global --debug, its traceback first."""
    if state["debug"] and isinstance(exc, BaseException):
        traceback.print_exception(exc)
    console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    raise typer.Exit(USER_MISTAKE)
