"""A manifest row from one read of a usual file: the Part 10 walk finds the values, no pydicom.

`spokesync manifest build` reads every file of a folder. For the usual object (little endian,
pixel data of a defined length, its manifest values plain ASCII in a character set that reads
ASCII as ASCII) the walk of tasks.manifest.part10 already knows where each top-level value lies,
so the row is made from those bytes and the pixel data is hashed where it lies. Anything else
returns None and the caller parses the file with pydicom as before; both give the same row
(tests/unit/test_scan_walk.py checks every pydicom test file and the odd values)."""

from __future__ import annotations

import hashlib
import warnings
from functools import lru_cache
from typing import Any

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from spokesync.tasks.manifest.dicom_headers import (
    INT_COLUMNS,
    TEXT_COLUMNS,
    text_value,
    unknown_terms,
)
from spokesync.tasks.manifest.fingerprint_buffer import walk_usual
from spokesync.tasks.manifest.fingerprints import PIXEL_PREFIX
from spokesync.tasks.manifest.part10 import Layout
from spokesync.tasks.manifest.schema import MANIFEST_SCHEMA

_CHARSET, _TRANSFER_SYNTAX = 0x00080005, 0x00020010
# manifest column -> (tag, its dictionary VR as stored in Explicit VR)
_COLUMNS = {
    column: (tag_for_keyword(keyword), dictionary_VR(keyword).encode())
    for column, keyword in (TEXT_COLUMNS | INT_COLUMNS).items()
}
_INT32 = range(-(2**31), 2**31)
_NAMES = tuple(MANIFEST_SCHEMA.names)
# printable ASCII, as a text value may hold it without the walk asking pydicom
_PLAIN = frozenset(range(0x20, 0x7F)) - {ord("\\")}
_PN_PLAIN = _PLAIN - {ord("=")}  # pydicom drops empty trailing component groups (A== is A)


def walked_row(data: memoryview, name: str, object_uri: str) -> tuple[dict, list[str]] | None:
    """The manifest row of a usual object held in memory whole, and the Specific Character Set
    terms the hub does not know; None when the object is unusual or refused (pydicom then
    reads it, and words any refusal as it always has)."""
    found = walk_usual(data, name)
    if found is None:
        return None
    layout, pixels = found
    charset = _plain(data, layout, _CHARSET, b"CS", keep_backslash=True)
    if charset is False or not _reads_ascii_as_ascii(_raw(data, layout, _CHARSET)):
        return None
    row: dict[str, Any] = {}
    for column, (tag, vr) in _COLUMNS.items():
        value = _plain(data, layout, tag, vr, pn=vr == b"PN")
        if value is False:
            return None
        row[column] = value
    for column in INT_COLUMNS:
        number = _number(row[column])
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
    """A value as manifest_row gives it (stripped text, None when absent or empty), or False
    when only pydicom can say: another VR than the dictionary's, or text that is not plain."""
    where = layout.elements.get(tag)
    if where is None:
        return None
    if where[0] not in (vr, b""):
        return False
    raw = _raw(data, layout, tag).rstrip(b"\x00 ")
    allowed = _PN_PLAIN if pn else _PLAIN
    if keep_backslash:  # a CS list (Specific Character Set): pydicom splits, strips, rejoins
        parts = raw.split(b"\\")
        if not all(allowed.issuperset(part) for part in parts):
            return False
        return text_value([part.decode("ascii") for part in parts] if len(parts) > 1 else
                          raw.decode("ascii"))  # fmt: skip
    if not allowed.issuperset(raw):
        return False
    return raw.decode("ascii").strip(" ") or None


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


def _number(text: str | None) -> int | None | bool:
    """An IS value as int_value gives it; False for anything but plain decimal digits."""
    if text is None:
        return None
    digits = text.removeprefix("-").removeprefix("+") if text[:1] in "+-" else text
    if not (digits.isdigit() and digits.isascii() and len(digits) <= 12):
        return False
    number = int(text)
    return number if number in _INT32 else None


@lru_cache(maxsize=64)
def _reads_ascii_as_ascii(raw: bytes) -> bool:
    """Whether pydicom, under this Specific Character Set value, reads plain ASCII unchanged."""
    sample = bytes(sorted(_PN_PLAIN))
    ds = Dataset()
    if raw:
        ds[_CHARSET] = RawDataElement(_CHARSET, "CS", len(raw), raw, 0, False, True)  # type: ignore[assignment]
    for keyword, vr in (("PatientName", "PN"), ("StudyDescription", "LO"), ("StudyID", "SH")):
        tag = tag_for_keyword(keyword)
        ds[tag] = RawDataElement(tag, vr, len(sample), sample, 0, False, True)  # type: ignore[assignment]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return all(str(ds[k].value) == sample.decode() for k in ("PatientName",
                       "StudyDescription", "StudyID"))  # fmt: skip
        except Exception:  # a character set pydicom cannot use: let pydicom read the file
            return False
