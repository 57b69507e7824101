"""A listing row from a C-FIND identifier: its raw values read as stored, pydicom only when needed.

A C-FIND at image level answers one identifier per instance (10,000 for a large study), each a
pydicom Dataset of raw elements. Converting twenty of them per identifier through pydicom cost
about 0.4 ms an instance, most of a DIMSE listing's time beyond the wire. When every value is
plain ASCII under a character set that reads ASCII as ASCII (tasks/manifest/plain_values.py),
the row is made from the raw bytes; otherwise manifest_row converts the identifier as before.
Both give the same row (tests/unit/test_spoke_listed_row.py)."""

from __future__ import annotations

from typing import Any

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from spokesync.tasks.manifest.dicom_headers import INT_COLUMNS, manifest_row
from spokesync.tasks.manifest.plain_values import (
    CHARSET,
    COLUMNS,
    plain_number,
    plain_text,
    reads_ascii_as_ascii,
)
from spokesync.tasks.manifest.schema import MANIFEST_SCHEMA

_NAMES = tuple(MANIFEST_SCHEMA.names)
_NOT_LISTED = {"transfer_syntax_uid": None, "fingerprint": None, "object_size": None,
               "object_uri": None}  # fmt: skip


def listed_row(ds: Dataset) -> dict[str, Any]:
    """The manifest row of one C-FIND identifier (no fingerprint, size or URI yet)."""
    row = _plain_row(ds)
    if row is None:
        row = manifest_row(ds, object_uri=None, object_size=None, fingerprint=None)
    return row


def _plain_row(ds: Dataset) -> dict[str, Any] | None:
    if getattr(ds, "file_meta", None):  # manifest_row reads its transfer syntax
        return None
    raw_charset = _raw(ds, CHARSET, "CS")
    if raw_charset is False or not reads_ascii_as_ascii(raw_charset or b""):
        return None
    row: dict[str, Any] = dict(_NOT_LISTED)
    for column, (tag, vr) in COLUMNS.items():
        raw = _raw(ds, tag, vr.decode())
        value = None if raw is None else False if raw is False else plain_text(raw, pn=vr == b"PN")
        if column in INT_COLUMNS and value is not False:
            value = plain_number(value)
        if value is False:
            return None
        row[column] = value
    return {name: row[name] for name in _NAMES}


def _raw(ds: Dataset, tag: int, vr: str) -> bytes | None | bool:
    """An element's stored bytes; None when absent; False when pydicom must read it (another VR
    than the dictionary's, or a value already converted; pydicom converts empty ones at once)."""
    if tag not in ds:
        return None
    element = ds.get_item(tag)
    if not isinstance(element, RawDataElement):
        return b"" if element.is_empty else False
    if element.VR not in (None, vr):
        return False
    return element.value or b""
