"""Writing a drop's files for any producer (manifest build, simulator, PACS pulls): the manifest
in MANIFEST_SCHEMA with its manifest.json, and byte-identical objects, each written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from spokesync.tasks.manifest.rules import CONTROL_PATTERN
from spokesync.tasks.manifest.schema import FINGERPRINT_VERSION, MANIFEST_FORMAT, MANIFEST_SCHEMA

ROW_GROUP = 122_880  # DuckDB's row group size: readers use every core
RENAMED = "objects/renamed"  # objects whose file name is no UTF-8 text get a generated one here
_CONTROL = re.compile(CONTROL_PATTERN)


def place_object(source: Path, target: Path, *, link: bool = True) -> bool:
    """Put a byte-identical object at `target` (hard link, else copy); True if it was linked."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    partial.unlink(missing_ok=True)
    linked = False
    if link:
        try:
            os.link(source, partial)
            linked = True
        except OSError:  # another file system, or links not allowed: copy instead
            linked = False
    if not linked:
        shutil.copyfile(source, partial)
    os.replace(partial, target)
    return linked


def write_manifest(
    rows_or_table: pa.Table | Iterable[Mapping[str, Any]],
    out: Path,
    spoke: str,
    generated_at: datetime | None = None,
) -> Path:
    """Write manifest.parquet (MANIFEST_SCHEMA) and manifest.json into `out`, each atomically.

    A table's extra columns are kept after the schema's; dict rows keep only schema columns.
    A naive `generated_at` is taken as UTC; the default is now.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = manifest_table(rows_or_table)
    target = out / "manifest.parquet"
    partial = out / f".manifest.parquet.{os.getpid()}.part"
    pq.write_table(table, partial, row_group_size=ROW_GROUP)
    fsync(partial)
    os.replace(partial, target)
    meta = {
        "spoke": spoke,
        "generated_at": utc_stamp(generated_at),
        "format": MANIFEST_FORMAT,
        "fingerprint": FINGERPRINT_VERSION,
    }
    write_text(out / "manifest.json", json.dumps(meta, indent=2) + "\n")
    return target


def manifest_table(rows_or_table: pa.Table | Iterable[Mapping[str, Any]]) -> pa.Table:
    """Return a table whose first columns are exactly MANIFEST_SCHEMA (typed, in order)."""
    if not isinstance(rows_or_table, pa.Table):
        return pa.Table.from_pylist(list(rows_or_table), schema=MANIFEST_SCHEMA)
    table = rows_or_table
    columns, fields = [], list(MANIFEST_SCHEMA)
    for field in MANIFEST_SCHEMA:
        if field.name in table.column_names:
            columns.append(table.column(field.name).cast(field.type))
        else:
            columns.append(pa.nulls(len(table), field.type))
    for name in table.column_names:
        if name not in MANIFEST_SCHEMA.names:
            columns.append(table.column(name))
            fields.append(table.schema.field(name))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def utc_stamp(moment: datetime | None = None) -> str:
    """Return `moment` (default now) as ISO-8601 UTC with a Z, to the second."""
    moment = moment or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_text(target: Path, text: str) -> None:
    """Write a small text file atomically: a temporary sibling, fsynced, renamed into place."""
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    partial.write_text(text, encoding="utf-8")
    fsync(partial)
    os.replace(partial, target)


def fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def replace_drop(partial: Path, out: Path) -> None:
    """Rename the complete drop into place; a previous drop there is moved aside, then removed."""
    if not out.exists():
        os.replace(partial, out)
        return
    previous = out.with_name(f".{out.name}.replaced-{os.getpid()}")
    shutil.rmtree(previous, ignore_errors=True)
    os.replace(out, previous)
    os.replace(partial, out)
    shutil.rmtree(previous, ignore_errors=True)


def object_uri(relative: str) -> str:
    """objects/<relative>, or a generated name when the file's name is no UTF-8 text or holds a
    control character (a manifest value may hold neither)."""
    try:
        relative.encode("utf-8")
    except UnicodeEncodeError:
        pass
    else:
        if not _CONTROL.search(relative):
            return f"objects/{relative}"
    digest = hashlib.sha256(os.fsencode(relative)).hexdigest()[:32]
    return f"{RENAMED}/{digest}.dcm"


def shown(name: str) -> str:
    """A file name (or text naming one) as UTF-8 text: undecodable bytes written as \\xNN."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")
