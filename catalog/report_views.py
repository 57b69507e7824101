"""Views over the report Parquet files: what `reports.duckdb`, the CLI and the HTML report read.

Nothing here opens the catalog, so reports work while a run holds the catalog's writer lock.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from functools import cache
from importlib import resources
from pathlib import Path

import duckdb
import pyarrow as pa

from spokesync.catalog.reports import TABLES

VIEWS_FILE = "reports.duckdb"
CHARTS = ("daily_changes", "backlog", "nearline_growth", "ownership_counts")


_BLOCK = re.compile(r"^-- name: ([a-z0-9_]+)\s*$", re.MULTILINE)
_PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)")


class ReportsMissing(FileNotFoundError):
    """The reports folder has no complete report yet."""


@cache
def _blocks() -> dict[str, str]:
    """Named blocks of catalog/sql/reports/views.sql: they run on the report views, not on the
    catalog, so they stay out of the catalog's own blocks (which are checked against its schema).
    """
    text = (
        resources.files("spokesync.catalog.sql").joinpath("reports", "views.sql").read_text("utf-8")
    )
    parts = _BLOCK.split(text)
    blocks = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        lines = body.strip().splitlines()
        while lines and lines[0].startswith("--"):  # the block's one-line description
            lines.pop(0)
        blocks[name] = "\n".join(lines).strip().rstrip(";")
    return blocks


def _run(con: duckdb.DuckDBPyConnection, name: str, params: dict | None = None):
    """Execute one statement of a named block, binding only the parameters it uses."""
    text = _blocks()[name]
    used = set(_PARAM.findall(text))
    return con.execute(text, {k: v for k, v in (params or {}).items() if k in used})


def table_glob(root: Path, table: str) -> str:
    return str(Path(root).absolute() / table / "**" / "*.parquet")


def has_reports(root: Path) -> bool:
    """True once every report table has at least one complete file (the views need one each)."""
    return all(any((Path(root) / t).glob("**/*.parquet")) for t in TABLES)


def _quoted(text: str) -> str:
    """A SQL string literal: a view stores its text, so it can hold no bound parameter."""
    return "'" + text.replace("'", "''") + "'"


def create_views(con: duckdb.DuckDBPyConnection, root: Path) -> None:
    """`<table>_history` over every file of a table, then the views analysts query."""
    raw = _blocks()["report_view_raw"]
    for table in TABLES:
        con.execute(
            raw.replace("{view}", f"{table}_history").replace(
                "{glob}", _quoted(table_glob(root, table))
            )
        )
    for statement in _blocks()["report_views"].split(";\n"):
        con.execute(statement)


def open_reports(root: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the report views; never touches reports.duckdb or the catalog."""
    if not has_reports(root):
        raise ReportsMissing(
            f"no reports under {root} yet; every committed run writes them "
            "(or run `spokesync report refresh`)"
        )
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    create_views(con, root)
    return con


def rebuild_views_file(root: Path) -> Path:
    """Write reports.duckdb (views only) to a temporary name, then rename it over the old one."""
    root = Path(root)
    final = root / VIEWS_FILE
    temp = root / f".{VIEWS_FILE}.{os.getpid()}.tmp"
    temp.unlink(missing_ok=True)
    con = duckdb.connect(str(temp))
    try:
        create_views(con, root)
        con.execute("checkpoint")
    finally:
        con.close()
    os.replace(temp, final)
    return final


def watermark(con: duckdb.DuckDBPyConnection) -> tuple[int, datetime | None]:
    """The newest cc seq and report time already exported."""
    seq, at = _run(con, "report_watermark").fetchone()
    return int(seq), at


def reported_runs(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [row[0] for row in _run(con, "report_reported_runs").fetchall()]


def query(
    con: duckdb.DuckDBPyConnection,
    table: str,
    *,
    spoke: str | None = None,
    since: datetime | None = None,
) -> pa.Table:
    """One report table as people read it, optionally for one spoke and since a time."""
    if table not in TABLES:
        raise KeyError(f"no report named {table!r}; choose one of {', '.join(TABLES)}")
    cursor = _run(con, f"report_query_{table}", {"spoke": spoke, "since": since})
    return cursor.to_arrow_table()


def chart_tables(con: duckdb.DuckDBPyConnection) -> dict[str, pa.Table]:
    """The small aggregated tables the HTML report draws."""
    return {name: _run(con, f"report_query_{name}").to_arrow_table() for name in CHARTS}
