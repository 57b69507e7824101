"""QIDO-RS results (DICOM JSON, PS3.18 §F.2) straight to manifest rows.

A nightly listing of a large spoke is millions of instances; building a pydicom Dataset for
each costs several times the mapping itself, so the JSON is read directly, with the same value
rules as tasks.manifest.dicom_headers (stripped text, backslash-joined values, int32 numbers).
"""

from __future__ import annotations

from pydicom.datadict import tag_for_keyword

from spokesync.tasks.manifest.dicom_headers import INT_COLUMNS, TEXT_COLUMNS, int_value, text_value
from spokesync.tasks.manifest.schema import MANIFEST_SCHEMA
from spokesync.tasks.spokes.source import LISTED_COLUMNS, Listing

_TAGS = {column: f"{tag_for_keyword(keyword):08X}"
         for column, keyword in {**TEXT_COLUMNS, **INT_COLUMNS}.items()}  # fmt: skip
_EMPTY_ROW = dict.fromkeys(MANIFEST_SCHEMA.names)


def listing_of_json(items: list[dict]) -> Listing:
    """The Listing of QIDO-RS instance results."""
    listing = Listing()
    for item in items:
        row = dict(_EMPTY_ROW)
        for column, tag in _TAGS.items():
            element = item.get(tag)
            if element is not None:
                row[column] = _value(column, element.get("Value"))
        listing.add(row, (c for c in LISTED_COLUMNS if _TAGS[c] in item))
    return listing


def _value(column: str, values: list | None) -> object:
    if not values:
        return None
    plain = [_person_name(v) if isinstance(v, dict) else v for v in values]
    return int_value(plain) if column in INT_COLUMNS else text_value(plain)


def _person_name(value: dict) -> str:
    """A PN's JSON groups as DICOM writes them: Alphabetic=Ideographic=Phonetic."""
    groups = (value.get(g, "") for g in ("Alphabetic", "Ideographic", "Phonetic"))
    return "=".join(groups).rstrip("=")
