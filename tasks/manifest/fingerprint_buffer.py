"""An object held in memory, read once: completeness, identity and fingerprint from one walk.

Archiving checks every object against its manifest row (DESIGN §2, §3). The usual objects,
uncompressed or with pixel data of a defined length, need no pydicom parse for that: the
structural walk of tasks.manifest.part10 already finds every top-level element, so the identity
UIDs are read from their bytes and the pixel data is hashed where it lies. Anything unusual
(deflated or big-endian data, encapsulated pixels, non-ASCII identity values, elements out of
order, no pixel data) goes through pydicom as `fingerprint_bytes` does; both give the same
fingerprint."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian, ImplicitVRLittleEndian

from spokesync.tasks.manifest.fingerprints import PIXEL_PREFIX, PIXEL_TAGS, parse_with_fingerprint
from spokesync.tasks.manifest.part10 import (
    PREAMBLE_AND_MAGIC,
    UNDEFINED,
    Layout,
    file_meta_end,
    walk_part10,
)

# DICOM keyword -> tag of the attributes an object must share with its manifest row
IDENTITY_TAGS = {
    "SOPInstanceUID": 0x00080018,
    "SeriesInstanceUID": 0x0020000E,
    "StudyInstanceUID": 0x0020000D,
    "SOPClassUID": 0x00080016,
    "PatientID": 0x00100020,
}
_TRANSFER_SYNTAX = 0x00020010
# syntaxes whose values do not lie at file offsets in little-endian order
_NOT_WALKED = {str(DeflatedExplicitVRLittleEndian), str(ExplicitVRBigEndian)}


@dataclass(frozen=True)
class Inspected:
    """What one read of an object found: its header values (by keyword; a dataset or a plain
    mapping), and either its pixel value bytes still to hash or its fingerprint already made."""

    header: Dataset | dict[str, Any]
    pixels: memoryview | None
    fingerprint: str | None = None

    def fingerprint_now(self) -> str:
        """The v1 fingerprint; hashing a large buffer releases the GIL (run it in a thread)."""
        if self.pixels is None:
            return str(self.fingerprint)
        return PIXEL_PREFIX + hashlib.sha256(self.pixels).hexdigest()


def inspect_object(data: memoryview, name: str) -> Inspected:
    """Check a Part 10 object held in memory and find its identity and pixel data; refuse it
    (ObjectRefused naming `name`) when it is not DICOM, cut short or malformed."""
    found = _walked(data, name)
    if found is not None:
        return found
    fingerprint, ds = parse_with_fingerprint(data, name)
    return Inspected(ds, None, fingerprint)


def _walked(data: memoryview, name: str) -> Inspected | None:
    """The walk's answer for a usual object, None when pydicom must look at it."""
    found = walk_usual(data, name)
    if found is None:
        return None
    layout, pixels = found
    header = _identity(data, layout)
    return None if header is None else Inspected(header, pixels)


def walk_usual(data: memoryview, name: str) -> tuple[Layout, memoryview] | None:
    """Walk a usual object (little endian, top-level elements in order, pixel data of a defined
    length) and return its layout and pixel value bytes; None when pydicom must look at it.
    A cut or malformed usual object is refused (ObjectRefused naming `name`)."""
    if bytes(data[128:PREAMBLE_AND_MAGIC]) != b"DICM":
        return None
    meta = file_meta_end(data, name)
    syntax = _ascii(data, meta[0].get(_TRANSFER_SYNTAX))
    if syntax is None or syntax in _NOT_WALKED:
        return None
    implicit = syntax == ImplicitVRLittleEndian
    layout = walk_part10(data, name, little=True, implicit=implicit, meta=meta)
    if not layout.ordered or layout.implicit != implicit:
        return None  # the data disagrees with its transfer syntax: let pydicom judge
    pixel = next((layout.elements[t] for t in PIXEL_TAGS if t in layout.elements), None)
    if pixel is None or pixel[2] == UNDEFINED:
        return None
    _, offset, length = pixel
    return layout, data[offset : offset + length]


def _identity(data: memoryview, layout: Layout) -> dict[str, Any] | None:
    """The identity values as pydicom would give them, None when one is not plain ASCII."""
    header: dict[str, Any] = {}
    for keyword, tag in IDENTITY_TAGS.items():
        if tag not in layout.elements:
            continue
        text = _ascii(data, layout.elements[tag])
        if text is None:
            return None
        header[keyword] = text.split("\\") if "\\" in text else text
    return header


def _ascii(data: memoryview, where: tuple[bytes, int, int] | None) -> str | None:
    """A value's printable ASCII text without its padding, None when it holds anything else."""
    if where is None:
        return None
    _, offset, length = where
    raw = bytes(data[offset : offset + length]).rstrip(b"\x00 ")
    text = raw.decode("latin-1")
    return text if raw.isascii() and text.isprintable() else None
