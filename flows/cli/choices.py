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
