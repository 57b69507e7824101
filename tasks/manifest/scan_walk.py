"""A manifest row from one read of a usual file: the Part 10 walk finds the values, no pydicom.

`spokesync manifest build` reads every file of a folder. For the usual object (little endian,
pixel data of a defined length, its manifest values plain ASCII in a character set that reads
ASCII as ASCII) the walk of tasks.manifest.part10 already knows where each top-level value lies,
so the row is made from those bytes and the pixel data is hashed where it lies. Anything else
returns None and the caller parses the file with pydicom as before; both give the same row
(tests/unit/test_scan_walk.py checks every pydicom test file and the odd values)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from spokesync.catalog.errors import ObjectRefused
from spokesync.tasks.manifest.dicom_headers import INT_COLUMNS, text_value, unknown_terms
from spokesync.tasks.manifest.fingerprint_buffer import walk_usual
from spokesync.tasks.manifest.fingerprints import PIXEL_PREFIX
from spokesync.tasks.manifest.part10 import MAP_ABOVE, Layout
from spokesync.tasks.manifest.plain_values import (
    CHARSET,
    COLUMNS,
    plain_number,
    plain_text,
    reads_ascii_as_ascii,
)
from spokesync.tasks.manifest.schema import MANIFEST_SCHEMA

_TRANSFER_SYNTAX = 0x00020010
_NAMES = tuple(MANIFEST_SCHEMA.names)


def walked_file(path: Path, object_uri: str) -> tuple[dict, list[str]] | None:
    """walked_row of the file at `path`, read whole in one read; None when the file is too
    large to hold (pydicom then streams its pixel data), cannot be read, is unusual or is
    refused (pydicom reads it again, to word the refusal as it always has)."""
    try:
        with open(path, "rb", buffering=0) as handle:
            if os.fstat(handle.fileno()).st_size > MAP_ABOVE:
                return None
            data = handle.readall()
        return walked_row(memoryview(data), os.fspath(path), object_uri)
    except (OSError, ObjectRefused):
        return None


def walked_row(data: memoryview, name: str, object_uri: str) -> tuple[dict, list[str]] | None:
    """The manifest row of a usual object held in memory whole, and the Specific Character Set
    terms the hub does not know; None when the object is unusual or refused (pydicom then
    reads it, and words any refusal as it always has)."""
    found = walk_usual(data, name)
    if found is None:
        return None
    layout, pixels = found
    charset = _plain(data, layout, CHARSET, b"CS", keep_backslash=True)
    if charset is False or not reads_ascii_as_ascii(_raw(data, layout, CHARSET)):
        return None
    row: dict[str, Any] = {}
    for column, (tag, vr) in COLUMNS.items():
        value = _plain(data, layout, tag, vr, pn=vr == b"PN")
        if value is False:
            return None
        row[column] = value
    for column in INT_COLUMNS:
        number = plain_number(row[column])
        if number is False:
            return None
        row[column] = number
    row["transfer_syntax_uid"] = _plain_meta(data, layout)
    row["fingerprint"] = PIXEL_PREFIX + hashlib.sha256(pixels).hexdigest()
    row["object_size"], row["object_uri"] = len(data), object_uri
    return {name: row[name] for name in _NAMES}, unknown_terms(charset or "")


def _plain(
    data: memoryview, layout: Layout, tag: int, vr: bytes, *, pn: bool = False,
    keep_backslash: bool = False,
) -> str | None | bool:  # fmt: skip
    """A value as manifest_row gives it (None when absent), or False when only pydicom can
    say: another VR than the dictionary's, or text that is not plain."""
    where = layout.elements.get(tag)
    if where is None:
        return None
    if where[0] not in (vr, b""):
        return False
    return plain_text(_raw(data, layout, tag), pn=pn, keep_backslash=keep_backslash)


def _raw(data: memoryview, layout: Layout, tag: int) -> bytes:
    """A top-level value's bytes as stored (b"" when absent)."""
    _, offset, length = layout.elements.get(tag, (b"", 0, 0))
    return bytes(data[offset : offset + length])


def _plain_meta(data: memoryview, layout: Layout) -> str | None:
    """The file meta Transfer Syntax UID as manifest_row gives it."""
    where = layout.meta.get(_TRANSFER_SYNTAX)
    if where is None:
        return None
    _, offset, length = where
    return text_value(bytes(data[offset : offset + length]).decode("latin-1"))
