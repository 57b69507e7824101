"""A structural check of DICOM Part 10 files: every element, item and sequence is complete.

pydicom stops quietly at the end of the data, so a file cut inside a value or a sequence would
otherwise parse as a shorter, valid-looking dataset and be archived with a wrong fingerprint.
The walk reads element headers from a buffer (bytes, or the file mapped into memory) and skips
values by their length; it also notes where each top-level element sits, so that a caller
holding the bytes can read a few values and the pixel data without a second parse.
"""

from __future__ import annotations

import io
import mmap
import struct
from dataclasses import dataclass, field
from typing import BinaryIO

from spokesync.catalog.errors import ObjectRefused

UNDEFINED = 0xFFFFFFFF
PREAMBLE_AND_MAGIC = 132
MAP_ABOVE = 64 << 20  # a larger file is mapped for the walk, not read into memory
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
# Explicit VRs whose header has 2 reserved bytes and a 32-bit length (PS3.5 7.1.2).
_LONG_VRS = frozenset(
    vr.encode()
    for vr in ("OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV")
)
_IMPLICIT = {"<": struct.Struct("<HHL"), ">": struct.Struct(">HHL")}
_EXPLICIT = {"<": struct.Struct("<HH2sH"), ">": struct.Struct(">HH2sH")}
_LONG = {"<": struct.Struct("<L"), ">": struct.Struct(">L")}
_UNPACK = {
    o: (_IMPLICIT[o].unpack_from, _EXPLICIT[o].unpack_from, _LONG[o].unpack_from) for o in "<>"
}


@dataclass
class Layout:
    """Where the top-level elements of a dataset lie in its buffer: tag -> (VR, value offset,
    length); VR is b"" for Implicit VR. `ordered` is False when a tag repeats or goes back."""

    little: bool
    implicit: bool
    elements: dict[int, tuple[bytes, int, int]] = field(default_factory=dict)
    meta: dict[int, tuple[bytes, int, int]] = field(default_factory=dict)
    ordered: bool = True


def check_complete(fp: BinaryIO, size: int, name: str, *, little: bool, implicit: bool) -> None:
    """Raise ObjectRefused unless every element of the file ends inside it (values are skipped).

    `little`/`implicit` describe the dataset after the file meta group. A file cut exactly
    between two top-level elements cannot be told from a complete one; Part 10 has no length.
    """
    if isinstance(fp, io.BytesIO):
        walk_part10(fp.getbuffer()[:size], name, little=little, implicit=implicit)
        return
    fp.seek(0)
    try:  # a small file is read (one cut meanwhile reads short and is refused, never faults)
        held = (
            fp.read(size) if size <= MAP_ABOVE else mmap.mmap(fp.fileno(), 0, prot=mmap.PROT_READ)
        )
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        held = fp.read(size)
    # a map closes when the last view of it goes (an error's traceback may still hold one)
    walk_part10(memoryview(held)[:size], name, little=little, implicit=implicit)


def walk_part10(
    data: memoryview,
    name: str,
    *,
    little: bool,
    implicit: bool,
    meta: tuple[dict[int, tuple[bytes, int, int]], int] | None = None,
) -> Layout:
    """Check that every element of a Part 10 buffer is complete and return the top level's
    layout (see check_complete for `little`/`implicit`; `meta`: file_meta_end's answer)."""
    return _Walker(data, name).check(little=little, implicit=implicit, meta=meta)


def file_meta(data: memoryview, name: str) -> dict[int, tuple[bytes, int, int]]:
    """The file meta group's elements (tag -> VR, value offset, length), checked complete."""
    return file_meta_end(data, name)[0]


def file_meta_end(data: memoryview, name: str) -> tuple[dict[int, tuple[bytes, int, int]], int]:
    """The file meta group's elements, and the offset where the dataset after it begins."""
    return _Walker(data, name).meta()


class _Walker:
    """Walk element headers, skipping values, from the file meta group to the end of data."""

    def __init__(self, data: memoryview, name: str) -> None:
        self.data, self.size, self.name, self.pos = data, len(data), name, 0

    def meta(self) -> tuple[dict[int, tuple[bytes, int, int]], int]:
        """Walk the file meta group after the preamble: its elements, and where it ends."""
        meta: dict[int, tuple[bytes, int, int]] = {}
        self.pos = start = min(PREAMBLE_AND_MAGIC, self.size)
        while (header := self._header("<", implicit=False)) is not None:
            tag, length, vr = header
            if tag >> 16 != 0x0002:
                break
            meta[tag] = (vr, self.pos, length)
            self._skip(length)
            start = self.pos
        return meta, start

    def check(
        self, *, little: bool, implicit: bool, meta: tuple[dict, int] | None = None
    ) -> Layout:
        """Skip the preamble and the file meta group (`meta`: as meta() found it already), then
        walk the dataset to the end."""
        meta, start = meta or self.meta()
        self.pos = start
        peek = bytes(self.data[start + 4 : start + 6])
        if len(peek) == 2:  # like pydicom, trust the data over a transfer syntax that lies
            implicit = not (peek.isalpha() and peek.isupper())
        layout = Layout(little, implicit, meta=meta)
        self._dataset("<" if little else ">", implicit, top=layout)
        return layout

    def _refuse(self, what: str, at: int | None = None) -> ObjectRefused:
        """The refusal of a malformed file, at byte `at` (default: where the walk is)."""
        if at is not None:
            self.pos = at
        return ObjectRefused(
            f"{self.name}: truncated or malformed DICOM file ({what} at byte "
            f"{self.pos} of {self.size})"
        )

    def _header(self, order: str, *, implicit: bool) -> tuple[int, int, bytes] | None:
        """Read one element or item header; return (tag, length, VR), or None at the end."""
        pos = self.pos
        if pos >= self.size:
            return None
        if pos + 8 > self.size:
            raise self._refuse("a cut element header", self.size)
        group, element, length = _IMPLICIT[order].unpack_from(self.data, pos)
        if implicit or group == 0xFFFE:
            self.pos = pos + 8
            return group << 16 | element, length, b""
        _, _, vr, length = _EXPLICIT[order].unpack_from(self.data, pos)
        if vr in _LONG_VRS:
            if pos + 12 > self.size:
                raise self._refuse("a cut element header", self.size)
            self.pos = pos + 12
            return group << 16 | element, _LONG[order].unpack_from(self.data, pos + 8)[0], vr
        self.pos = pos + 8
        return group << 16 | element, length, vr

    def _dataset(self, order: str, implicit: bool, *, top: Layout | None = None) -> None:
        """Walk to the end (top) or an item delimiter; the hot loop of a scan: all in locals."""
        data, size, pos, last = self.data, self.size, self.pos, -1
        implicit_header, explicit_header, long_length = _UNPACK[order]
        elements, ordered = (top.elements, top.ordered) if top is not None else (None, True)
        while pos < size:
            if pos + 8 > size:
                raise self._refuse("a cut element header", size)
            if implicit:
                group, element, length = implicit_header(data, pos)
                vr, pos = b"", pos + 8
            else:
                group, element, vr, length = explicit_header(data, pos)
                pos += 8
                if group == 0xFFFE:  # item headers are implicit in every transfer syntax
                    vr, length = b"", long_length(data, pos - 4)[0]
                elif vr in _LONG_VRS:
                    if pos + 4 > size:
                        raise self._refuse("a cut element header", size)
                    length, pos = long_length(data, pos)[0], pos + 4
            tag = group << 16 | element
            if tag == _ITEM_END:
                self.pos = pos
                if top is None:
                    return
                raise self._refuse("a stray item delimiter")
            if elements is not None:  # a tag that repeats or goes back: not in pydicom's order
                ordered = ordered and tag > last
                elements[tag], last = (vr, pos, length), tag
            if length == UNDEFINED:  # an undefined-length UN holds Implicit VR LE (PS3.5 6.2.2)
                self.pos = pos
                self._items(order, implicit or vr == b"UN")
                pos = self.pos
            elif pos + length > size:
                raise self._refuse(f"a value of {length} bytes", pos)
            else:
                pos += length
        if top is None:
            raise self._refuse("a sequence item without its end", pos)
        self.pos, top.ordered = pos, ordered

    def _items(self, order: str, implicit: bool) -> None:
        """Walk the items of an undefined-length sequence or pixel data up to its delimiter."""
        while (header := self._header(order, implicit=implicit)) is not None:
            tag, length, _ = header
            if tag == _SEQ_END:
                return
            if tag != _ITEM:
                raise self._refuse(f"tag {tag:08X} where an item was expected")
            if length == UNDEFINED:
                self._dataset(order, implicit)
            else:
                self._skip(length)
        raise self._refuse("a sequence without its end")

    def _skip(self, length: int) -> None:
        end = self.pos + length
        if end > self.size:
            raise self._refuse(f"a value of {length} bytes")
        self.pos = end
