"""What a PACS spoke source is: a lister of studies and instances, and a fetcher of objects.

The DICOMweb (QIDO-RS + WADO-RS) and DIMSE (C-FIND + C-GET/C-MOVE) sources implement the same
small protocol, so the pull that turns a listing into a drop (tasks/spokes/pull.py) is written
once, and tests drive it with an in-memory fake as well as with a real Orthanc.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Protocol

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset

from spokesync.catalog.errors import ConfigInvalid, SpokeUnavailable
from spokesync.tasks.manifest.dicom_headers import INT_COLUMNS, TEXT_COLUMNS
from spokesync.tasks.manifest.rules import MAX_UID_LENGTH, UID_FIX, UID_PATTERN
from spokesync.tasks.manifest.schema import REQUIRED_COLUMNS
from spokesync.tasks.spokes.listed_row import listed_row

# Every manifest attribute a source must return for each instance (DESIGN §2).
TRACKED_KEYWORDS = tuple(TEXT_COLUMNS.values()) + tuple(INT_COLUMNS.values())
# manifest column -> DICOM keyword, for the attributes a listing may leave out
LISTED_COLUMNS = {
    **{c: k for c, k in TEXT_COLUMNS.items() if c not in REQUIRED_COLUMNS},
    **INT_COLUMNS,
}
_LISTED_TAGS = {column: tag_for_keyword(keyword) for column, keyword in LISTED_COLUMNS.items()}
_UID = re.compile(UID_PATTERN)


@dataclass(frozen=True)
class StudyRef:
    """A study the PACS lists, with the instance count it reports for it (None if it does not)."""

    study_instance_uid: str
    instances: int | None


@dataclass(frozen=True)
class ObjectRef:
    """One object to fetch, addressed the way both WADO-RS and C-GET address it."""

    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    sop_class_uid: str | None = None


@dataclass
class Listing:
    """One study as the PACS lists it: a manifest row per instance (no fingerprint or
    object_uri yet), and the LISTED_COLUMNS the PACS returned for at least one of them."""

    rows: list[dict] = field(default_factory=list)
    supplied: set[str] = field(default_factory=set)

    def add(self, row: dict, present: Iterable[str]) -> None:
        self.rows.append(row)
        self.supplied.update(present)


def instances_per(listing: Listing, column: str) -> dict[str, int]:
    """How many distinct instances each value of `column` (a series or study UID) lists: a
    fetch asks for a whole series or study at once only when it wants all of them. A study
    listed again replaces its counts (dict.update), never adds to them."""
    distinct = {(row[column], row["sop_instance_uid"]) for row in listing.rows}
    return dict(Counter(group for group, _sop in distinct))


def listing_of(datasets: Iterable[Dataset]) -> Listing:
    """The Listing of header datasets (C-FIND identifiers, or objects read from files)."""
    listing = Listing()
    for ds in datasets:
        listing.add(listed_row(ds), (c for c, tag in _LISTED_TAGS.items() if tag in ds))
    return listing


class SpokeSource(Protocol):
    """A PACS the hub pulls from. Every method raises SpokeUnavailable when the PACS fails."""

    where: str  # the URL or AET@host:port, for messages (never credentials)

    def studies(self, since: date | None) -> Iterator[StudyRef]:
        """The studies the PACS holds (changed since `since`, where it can tell)."""
        ...

    def instances(self, study: StudyRef) -> Listing:
        """Every instance of one study, with the TRACKED_KEYWORDS the PACS knows."""
        ...

    def fetch(self, refs: Iterable[ObjectRef], objects: Path) -> Iterator[tuple[str, Path]]:
        """Fetch objects as the PACS sends them into `objects/`; yield (SOP UID, file) of the
        objects asked for only. A generator: closing it stops what is still in flight."""
        ...

    def close(self) -> None: ...


def since_value(keyword: str, since: date) -> tuple[str, str]:
    """The range matching key for `keyword` >= `since` (a DA attribute), for QIDO and C-FIND."""
    check_since_attribute(keyword)
    return keyword, f"{since:%Y%m%d}-"


def check_since_attribute(keyword: str) -> None:
    """A narrowing attribute must be a DICOM date, or a range over it means nothing."""
    if tag_for_keyword(keyword) is None or dictionary_VR(keyword) != "DA":
        raise ConfigInvalid(
            f"since_attribute {keyword!r} is not a DICOM date attribute (VR DA); use a keyword "
            "such as StudyDate, or remove since_attribute to list every study"
        )


def as_int(value: object) -> int | None:
    """An IS/US value as the PACS returned it (text, number or list), or None."""
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    try:
        return int(str(value).strip()) if value not in (None, "") else None
    except ValueError:
        return None


def object_path(objects: Path, sop_uid: object, where: str) -> Path:
    """Where a fetched object is written: a SOP UID from the PACS must be a UID, not a path."""
    text = str(sop_uid or "")
    if not _UID.match(text) or len(text) > MAX_UID_LENGTH:
        raise SpokeUnavailable(
            f"{where}: the spoke sent an object whose SOP instance UID {text[:80]!r} is not a "
            f"valid DICOM UID; it was not stored. Fix the object at the spoke ({UID_FIX})",
            retryable=False,
        )
    return objects / f"{text}.dcm"
