"""A structural check of DICOM Part 10 files: every element, item and sequence is complete.

pydicom stops quietly at the end of the data, so a file cut inside a value or a sequence would
otherwise parse as a shorter, valid-looking dataset and be archived with a wrong fingerprint.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

from spokesync.catalog.errors import ObjectRefused

UNDEFINED = 0xFFFFFFFF
PREAMBLE_AND_MAGIC = 132
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
# Explicit VRs whose header has 2 reserved bytes and a 32-bit length (PS3.5 7.1.2).
_LONG_VRS = frozenset(
    vr.encode()
    for vr in ("OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV")
)


def check_complete(fp: BinaryIO, size: int, name: str, *, little: bool, implicit: bool) -> None:
    """Raise ObjectRefused unless every element of the file ends inside it (values are skipped).

    `little`/`implicit` describe the dataset after the file meta group. A file cut exactly
    between two top-level elements cannot be told from a complete one; Part 10 has no length.
    """
    _Walker(fp, size, name).check(little=little, implicit=implicit)


class _Walker:
    """Walk element headers, skipping values, from the file meta group to the end of data."""

    def __init__(self, fp: BinaryIO, size: int, name: str) -> None:
        self.fp, self.size, self.name = fp, size, name

    def check(self, *, little: bool, implicit: bool) -> None:
        """Skip the preamble and the file meta group, then walk the dataset to the end."""
        self.fp.seek(PREAMBLE_AND_MAGIC)
        while True:
            start = self.fp.tell()
            header = self._header(little=True, implicit=False)
            if header is None or header[0] >> 16 != 0x0002:
                break
            self._skip(header[1])
        self.fp.seek(start)
        peek = self.fp.read(6)[4:]
        self.fp.seek(start)
        if len(peek) == 2:  # like pydicom, trust the data over a transfer syntax that lies
            implicit = not (peek.isalpha() and peek.isupper())
        self._dataset(little, implicit, nested=False)

    def _refuse(self, what: str) -> ObjectRefused:
        return ObjectRefused(
            f"{self.name}: truncated or malformed DICOM file ({what} at byte "
            f"{self.fp.tell()} of {self.size})"
        )

    def _header(self, *, little: bool, implicit: bool) -> tuple[int, int, bytes] | None:
        """Read one element or item header; return (tag, length, VR), or None at the end."""
        raw = self.fp.read(8)
        if not raw:
            return None
        if len(raw) < 8:
            raise self._refuse("a cut element header")
        order = "<" if little else ">"
        group, element = struct.unpack(order + "HH", raw[:4])
        if implicit or group == 0xFFFE:
            return group << 16 | element, struct.unpack(order + "L", raw[4:])[0], b""
        if raw[4:6] in _LONG_VRS:
            more = self.fp.read(4)
            if len(more) < 4:
                raise self._refuse("a cut element header")
            return group << 16 | element, struct.unpack(order + "L", more)[0], raw[4:6]
        return group << 16 | element, struct.unpack(order + "H", raw[6:])[0], raw[4:6]

    def _dataset(self, little: bool, implicit: bool, *, nested: bool) -> None:
        """Walk elements to the end of the file (top level) or to an item delimiter (nested)."""
        while (header := self._header(little=little, implicit=implicit)) is not None:
            tag, length, vr = header
            if tag == _ITEM_END:
                if nested:
                    return
                raise self._refuse("a stray item delimiter")
            if length == UNDEFINED:  # an undefined-length UN holds Implicit VR LE (PS3.5 6.2.2)
                self._items(little, implicit or vr == b"UN")
            else:
                self._skip(length)
        if nested:
            raise self._refuse("a sequence item without its end")

    def _items(self, little: bool, implicit: bool) -> None:
        """Walk the items of an undefined-length sequence or pixel data up to its delimiter."""
        while (header := self._header(little=little, implicit=implicit)) is not None:
            tag, length, _ = header
            if tag == _SEQ_END:
                return
            if tag != _ITEM:
                raise self._refuse(f"tag {tag:08X} where an item was expected")
            if length == UNDEFINED:
                self._dataset(little, implicit, nested=True)
            else:
                self._skip(length)
        raise self._refuse("a sequence without its end")

    def _skip(self, length: int) -> None:
        end = self.fp.tell() + length
        if end > self.size:
            raise self._refuse(f"a value of {length} bytes")
        self.fp.seek(end)
