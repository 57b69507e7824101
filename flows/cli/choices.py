"""The choices the command line accepts, as enums: typer lists them in --help and refuses
anything else in one line (`error: Invalid value for '--format': …`)."""

from __future__ import annotations

from enum import StrEnum


class ListFormat(StrEnum):
    """How `changes list` and `review show` print records."""

    table = "table"
    json = "json"
    csv = "csv"


class ReportFormat(StrEnum):
    """How `report NAME` prints a report table."""

    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


class DimseRetrieve(StrEnum):
    """How a DIMSE spoke's objects come to the hub."""

    get = "get"
    move = "move"


def human_bytes(count: int | None) -> str:
    """1536 → '1.5 KiB' for tables (JSON and CSV keep the exact number)."""
    if count is None:
        return ""
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"
