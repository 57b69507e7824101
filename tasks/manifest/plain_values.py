"""Manifest values straight from stored bytes, when the bytes speak for themselves.

A text value that is plain printable ASCII, under a Specific Character Set that reads ASCII as
ASCII, is what pydicom would give: no parse is needed. Anything else answers False, and the
caller asks pydicom (tasks.manifest.dicom_headers.manifest_row), so both ways give one row.
Used by the Part 10 walk (tasks/manifest/scan_walk.py) and for C-FIND identifiers
(tasks/spokes/listed_row.py)."""

from __future__ import annotations

import warnings
from functools import lru_cache

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from spokesync.tasks.manifest.dicom_headers import INT_COLUMNS, TEXT_COLUMNS, text_value

CHARSET = 0x00080005
# manifest column -> (tag, its dictionary VR as stored in Explicit VR)
COLUMNS = {
    column: (tag_for_keyword(keyword), dictionary_VR(keyword).encode())
    for column, keyword in (TEXT_COLUMNS | INT_COLUMNS).items()
}
_INT32 = range(-(2**31), 2**31)
# printable ASCII, as a text value may hold it without asking pydicom
_PLAIN = frozenset(range(0x20, 0x7F)) - {ord("\\")}
_PN_PLAIN = _PLAIN - {ord("=")}  # pydicom drops empty trailing component groups (A== is A)


def plain_text(raw: bytes, *, pn: bool = False, keep_backslash: bool = False) -> str | None | bool:
    """A stored text value as manifest_row gives it (stripped text, None when empty), or False
    when only pydicom can say (text that is not plain)."""
    raw = raw.rstrip(b"\x00 ")
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


def plain_number(text: str | None) -> int | None | bool:
    """An IS value as int_value gives it; False for anything but plain decimal digits."""
    if text is None:
        return None
    digits = text.removeprefix("-").removeprefix("+") if text[:1] in "+-" else text
    if not (digits.isdigit() and digits.isascii() and len(digits) <= 12):
        return False
    number = int(text)
    return number if number in _INT32 else None


@lru_cache(maxsize=64)
def reads_ascii_as_ascii(raw: bytes) -> bool:
    """Whether pydicom, under this Specific Character Set value, reads plain ASCII unchanged."""
    sample = bytes(sorted(_PN_PLAIN))
    ds = Dataset()
    if raw:
        ds[CHARSET] = RawDataElement(CHARSET, "CS", len(raw), raw, 0, False, True)  # type: ignore[assignment]
    for keyword, vr in (("PatientName", "PN"), ("StudyDescription", "LO"), ("StudyID", "SH")):
        tag = tag_for_keyword(keyword)
        ds[tag] = RawDataElement(tag, vr, len(sample), sample, 0, False, True)  # type: ignore[assignment]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return all(str(ds[k].value) == sample.decode() for k in ("PatientName",
                       "StudyDescription", "StudyID"))  # fmt: skip
        except Exception:  # a character set pydicom cannot use: let pydicom read it
            return False
