"""Reading a manifest.csv: every column as text, and a broken row named without its values."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from spokesync.catalog.errors import ManifestInvalid

CSV_BLOCK = 64 << 20  # the longest CSV line pyarrow reads whole (a 10 MB value fits)


def read_csv(file: Path) -> pa.Table:
    """Every column read as text, so IDs keep their leading zeros; a broken row is named."""
    header = _csv_header(file)
    try:
        try:
            return _read_csv_as(file, header, pa.string())
        except pa.ArrowInvalid as exc:
            if "UTF8" not in str(exc):
                raise
            return _read_csv_as(file, header, pa.binary())  # conform names the row and column
    except (pa.ArrowInvalid, OSError) as exc:
        raise _csv_refused(file, header, exc) from None


def _csv_header(file: Path) -> list[str]:
    """The header's column names, unquoted as a CSV reader does (a UTF-8 BOM is dropped)."""
    with file.open("rb") as stream:
        line = stream.readline().decode("utf-8-sig", "replace")
    return next(csv.reader([line]), [])


def _read_csv_as(file: Path, header: list[str], kind: pa.DataType, **read: object) -> pa.Table:
    options = pacsv.ConvertOptions(
        column_types={name: kind for name in header},
        strings_can_be_null=True,
        null_values=[""],
        quoted_strings_can_be_null=False,
    )
    # A block must hold the longest line, or pyarrow cannot name the over-long value; rows
    # are numbered for a parse handler only when one thread reads.
    read_options = pacsv.ReadOptions(block_size=CSV_BLOCK, use_threads=not read)
    return pacsv.read_csv(file, read_options=read_options, convert_options=options, **read)


def _csv_refused(file: Path, header: list[str], exc: Exception) -> ManifestInvalid:
    """Name the first row whose field count differs from the header's (never its values)."""
    found: list = []

    def note(row) -> str:
        found.append(row)
        return "error"

    try:
        handler = pacsv.ParseOptions(invalid_row_handler=note)
        _read_csv_as(file, header, pa.binary(), parse_options=handler)
    except (pa.ArrowInvalid, OSError):
        pass
    fix = "write the CSV as UTF-8 with the manifest header"
    if not found:
        return ManifestInvalid(str(file), f"not a readable UTF-8 CSV file ({exc})", fix=fix)
    bad = found[0]
    return ManifestInvalid(
        str(file),
        f"the row has {bad.actual_columns} fields, the header {bad.expected_columns}",
        row=bad.number - 1 if bad.number > 0 else None,
        fix="quote every value that holds a comma, and give every row the header's fields",
    )
