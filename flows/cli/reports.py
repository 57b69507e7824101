"""`spokesync report …`: the report tables and the HTML report, read from the Parquet files only.

Nothing here opens the catalog (except `report refresh`, which writes), so every report works
while a reconcile holds the catalog's writer lock.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from spokesync.catalog.errors import SpokesyncError
from spokesync.catalog.report_names import TABLES
from spokesync.flows.cli.choices import ReportFormat
from spokesync.flows.cli.common import ConfigOpt, fail
from spokesync.tasks import config as cfg
from spokesync.tasks.reports.night import human_bytes

if TYPE_CHECKING:
    import pyarrow as pa

FORMATS = tuple(f.value for f in ReportFormat)
console = Console(width=None if sys.stdout.isatty() else 200)
SinceOpt = Annotated[
    str | None, typer.Option("--since", help="only rows from this ISO date or time on")
]
SpokeOpt = Annotated[str | None, typer.Option("--spoke", help="only this spoke's rows")]
FormatOpt = Annotated[
    ReportFormat, typer.Option("--format", help="table (sizes readable), or csv/json/parquet exact")
]
OutOpt = Annotated[Path | None, typer.Option("--out", help="write to FILE instead of the terminal")]


def parse_since(value: str | None) -> datetime | None:
    """--since as an aware datetime (a bare date means its midnight UTC)."""
    from spokesync.flows.console import parse_since as parse

    return parse(value)


def load_table(config: Path | None, name: str, spoke: str | None, since: str | None) -> pa.Table:
    """The report table from the Parquet files, filtered; errors say what to do."""
    from spokesync.catalog.report_views import open_reports, query  # pyarrow: only now

    loaded = cfg.load_config(config)
    con = open_reports(loaded.reports)
    try:
        return query(con, name, spoke=spoke, since=parse_since(since))
    finally:
        con.close()


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(map(str, value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def emit(table: pa.Table, fmt: str, out: Path | None, title: str) -> None:
    """Print or write `table` as a rich table, CSV, JSON or Parquet."""
    if fmt not in FORMATS:
        raise ValueError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    import pyarrow.parquet as pq

    if fmt == "parquet":
        if out is None:
            raise ValueError("--format parquet needs --out FILE")
        pq.write_table(table, out)
        return
    if fmt == "table" and out is None:
        console.print(rich_table(table, title))
        return
    text = _csv(table) if fmt == "csv" else _json(table) if fmt == "json" else _plain(table)
    if out is None:
        sys.stdout.write(text)
    else:
        Path(out).write_text(text, "utf-8")


def rich_table(table: pa.Table, title: str) -> Table:
    """A terminal table: lists joined, fractions to two decimals."""
    shown = Table(title=f"{title} ({len(table)} rows)")
    for name in table.column_names:
        shown.add_column(name, overflow="fold")
    for row in table.to_pylist():
        shown.add_row(*(_cell(k, v) for k, v in row.items()))
    return shown


def _cell(name: str, value) -> str:
    """Byte counts readable (1.5 MiB), fractions to two decimals; CSV and JSON stay exact."""
    if isinstance(value, int) and not isinstance(value, bool) and "bytes" in name:
        return human_bytes(value)
    return f"{value:,.2f}" if isinstance(value, float) else _text(value)


def _csv(table: pa.Table) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(table.column_names)
    for row in table.to_pylist():
        writer.writerow([_text(v) for v in row.values()])
    return buffer.getvalue()


def _json(table: pa.Table) -> str:
    return json.dumps(table.to_pylist(), default=_text, indent=1) + "\n"


def _plain(table: pa.Table) -> str:
    capture = Console(file=io.StringIO(), width=200)
    capture.print(rich_table(table, "report"))
    return capture.file.getvalue()


def table_command(name: str) -> Callable[..., None]:
    """The `report NAME` command for one report table."""

    def command(
        since: SinceOpt = None,
        spoke: SpokeOpt = None,
        fmt: FormatOpt = ReportFormat.table,
        out: OutOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        try:
            emit(load_table(config, name, spoke, since), fmt.value, out, name)
        except (SpokesyncError, FileNotFoundError, ValueError, KeyError) as exc:  # ReportsMissing
            fail(exc)

    command.__doc__ = (
        f"The {name.replace('_', ' ')} report (from the report Parquet files, never the live "
        "catalog)."
    )
    return command


def html_command(
    out: Annotated[Path, typer.Option("--out", help="the HTML file to write")],
    config: ConfigOpt = None,
) -> None:
    """One self-contained HTML file with charts and tables (works offline)."""
    from spokesync.tasks.reports.html import write_html

    try:
        written = write_html(cfg.load_config(config).reports, out)
    except (SpokesyncError, FileNotFoundError) as exc:  # ReportsMissing too
        fail(exc)
    console.print(f"wrote {written} ({human_bytes(written.stat().st_size)})")


def refresh_command(
    config: ConfigOpt = None,
    wait: Annotated[bool, typer.Option("--wait", help="queue behind a catalog writer")] = False,
) -> None:
    """Report committed runs that have none (takes the catalog's lock), rebuild reports.duckdb."""
    from spokesync.catalog.report_views import has_reports, rebuild_views_file
    from spokesync.tasks.reports.tables import write_reports

    try:
        loaded = cfg.load_config(config)
        written = write_reports(loaded, None, wait=wait)
    except SpokesyncError as exc:
        fail(exc)
    if has_reports(loaded.reports):
        rebuild_views_file(loaded.reports)  # also re-points the views after a move
    console.print(f"reported {len(written)} run(s)" if written else "reports are up to date")


report_app = typer.Typer(
    help="Reports analysts query: read from Parquet, never the live catalog.",
    no_args_is_help=True,
)
for _name in TABLES:
    _example = (
        f"Example: spokesync report {_name.replace('_', '-')} --since 2026-11-01 --format csv"
    )
    report_app.command(_name.replace("_", "-"), epilog=_example)(table_command(_name))
    if "_" in _name:
        report_app.command(_name, hidden=True)(table_command(_name))
report_app.command("html", epilog="Example: spokesync report html --out report.html")(html_command)
report_app.command("refresh", epilog="Example: spokesync report refresh")(refresh_command)
