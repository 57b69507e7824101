"""Correct one stored object on its way out (DESIGN §8): current values, UIDs, references.

Pure: `correct_dataset` takes a dataset read from nearline, the catalog's current values for
it and the UID map, and edits the dataset in place. Every replaced top-level element is kept,
as it was stored, in a new Original Attributes Sequence (0400,0561) item with reason CORRECT,
so the stored original can always be reconstructed. Pixel data is never touched.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from pydicom.charset import convert_encodings
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from spokesync.tasks.manifest.dicom_headers import int_value, text_value

MODIFYING_SYSTEM = "spokesync"
REASON = "CORRECT"
IDENTITY = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")
INT_KEYWORDS = frozenset(("SeriesNumber", "InstanceNumber"))
# No value in the catalog: Type 3 attributes are removed, Type 2 ones written empty, and a
# Type 1 one (Modality) keeps its stored value, as the spokes' own PACS do.
OPTIONAL_KEYWORDS = frozenset(
    ("IssuerOfPatientID", "StudyDescription", "SeriesDescription", "StudyStatusID")
)
REQUIRED_KEYWORDS = frozenset(("Modality",))
_HISTORY = tag_for_keyword("OriginalAttributesSequence")
_CHARSET = tag_for_keyword("SpecificCharacterSet")
_PIXEL_GROUP = 0x7FE0

Value = str | int | None


@dataclass(frozen=True)
class Target:
    """What the catalog says one instance is now: its UIDs and its tracked values by keyword.

    A keyword missing from `values` is left as stored; one mapped to None has no value now.
    """

    study_uid: str
    series_uid: str
    sop_uid: str
    values: Mapping[str, Value]


class UidMap:
    """Old UIDs → the current UIDs they became, each with the study that now holds it.

    One old UID can lead to several current ones (a segment's duplicates, a split series):
    a reference then follows the one in the referring object's own study.
    """

    def __init__(self, rows: Iterable[tuple[str, str, str]] = ()) -> None:
        self._map: dict[str, list[tuple[str, str]]] = {}
        for old, new, study in rows:
            self._map.setdefault(old, []).append((new, study))

    def __len__(self) -> int:
        return len(self._map)

    def __contains__(self, uid: object) -> bool:
        return uid in self._map

    def resolve(self, uid: str, study: str) -> str:
        """The current UID a reference to `uid` from an object of `study` should name.

        Prefer a candidate in the same study; else `uid` itself when it is still current;
        else the only candidate. With several candidates elsewhere, or none (all deleted),
        the reference is kept as stored rather than guessed.
        """
        candidates = self._map.get(uid)
        if not candidates:
            return uid
        same = sorted(new for new, where in candidates if where == study)
        if same:
            return uid if uid in same else same[0]
        news = {new for new, _ in candidates}
        if uid in news or len(news) != 1:
            return uid
        return news.pop()


@dataclass
class Edits:
    """What `correct_dataset` changed: tracked keywords corrected and UID values remapped."""

    attributes: list[str] = field(default_factory=list)
    uids: int = 0
    originals: dict[int, DataElement] = field(default_factory=dict)
    meta: bool = False  # the file meta group changed

    @property
    def changed(self) -> bool:
        """Tell whether the dataset changed (then an Original Attributes item was added)."""
        return bool(self.originals)


def correct_dataset(ds: Dataset, target: Target, uid_map: UidMap, *, now: datetime) -> Edits:
    """Bring `ds` to the catalog's current state in place and record what it replaced."""
    edits = Edits()
    _replace_values(ds, target.values, edits)
    _replace_identity(ds, target, edits)
    _remap_references(ds, uid_map, target.study_uid, edits)
    meta = getattr(ds, "file_meta", None)
    if meta is not None and meta.get("MediaStorageSOPInstanceUID") != target.sop_uid:
        meta.MediaStorageSOPInstanceUID = target.sop_uid  # the file meta names the instance too
        edits.meta = True
    if edits.changed:
        _record_originals(ds, edits.originals, now)
    return edits


def stored_value(ds: Dataset, keyword: str) -> Value:
    """The stored value as the manifest compares it (stripped text, int32), None if absent."""
    try:
        raw = ds.get(keyword)
    except Exception:  # a malformed stored value counts as no value, as in the manifest
        raw = None
    return int_value(raw) if keyword in INT_KEYWORDS else text_value(raw)


def _replace_values(ds: Dataset, values: Mapping[str, Value], edits: Edits) -> None:
    """Set each tracked value that differs from the stored one (empty text counts as none)."""
    for keyword, wanted in values.items():
        wanted = text_value(wanted) if isinstance(wanted, str) else wanted
        if stored_value(ds, keyword) == wanted:
            continue
        if wanted is None and keyword in REQUIRED_KEYWORDS:
            continue
        _keep_original(ds, tag_for_keyword(keyword), edits)
        if isinstance(wanted, str) and not _encodable(ds, wanted):
            _use_utf8(ds, edits)
        if wanted is None and keyword in OPTIONAL_KEYWORDS:
            del ds[keyword]
        else:
            setattr(ds, keyword, "" if wanted is None else wanted)
        edits.attributes.append(keyword)


def _encodable(ds: Dataset, text: str) -> bool:
    """Tell whether the dataset's single character set can hold `text` (ASCII always can)."""
    if text.isascii():
        return True
    encodings = convert_encodings(ds.get("SpecificCharacterSet") or "ISO_IR 6")
    try:
        text.encode(encodings[0])
    except (UnicodeEncodeError, LookupError):
        return False
    return len(encodings) == 1  # ISO 2022 code extensions: leave it to UTF-8


def _use_utf8(ds: Dataset, edits: Edits) -> None:
    """Switch to UTF-8 before writing text the stored character set cannot hold."""
    ds.decode()  # every text value becomes str first, so it is re-encoded, not relabelled
    _keep_original(ds, _CHARSET, edits)
    ds.SpecificCharacterSet = "ISO_IR 192"


def _replace_identity(ds: Dataset, target: Target, edits: Edits) -> None:
    """Give the object its current study, series and SOP instance UIDs."""
    wanted = (target.study_uid, target.series_uid, target.sop_uid)
    for keyword, uid in zip(IDENTITY, wanted, strict=True):
        if ds.get(keyword) != uid:
            _keep_original(ds, tag_for_keyword(keyword), edits)
            setattr(ds, keyword, uid)
            edits.uids += 1


def _remap_references(ds: Dataset, uid_map: UidMap, study: str, edits: Edits) -> None:
    """Remap UIDs the object refers to, at any depth, keeping each changed top-level element."""
    if not len(uid_map):
        return
    for elem in _may_hold_uids(ds):
        if elem.tag in edits.originals or elem.tag == _HISTORY or elem.tag >> 16 == _PIXEL_GROUP:
            continue
        if elem.keyword in IDENTITY or not _holds_mapped(elem, uid_map):
            continue
        original = copy.deepcopy(elem)
        edits.uids += _remap_element(elem, uid_map, study)
        edits.originals[elem.tag] = original


def _may_hold_uids(ds: Dataset) -> list[DataElement]:
    """The sequences and UI elements of `ds`; only these are decoded, the rest stay raw."""
    found = []
    for tag in list(ds.keys()):
        vr = ds.get_item(tag).VR if tag >> 16 & 1 else _public_vr(tag)  # private: as stored
        if vr in ("SQ", "UI"):
            found.append(ds[tag])
    return found


@functools.cache
def _public_vr(tag: int) -> str | None:
    """The dictionary VR of a public tag (None for one the dictionary does not know)."""
    try:
        return dictionary_VR(tag)
    except KeyError:
        return None


def _holds_mapped(elem: DataElement, uid_map: UidMap) -> bool:
    """Tell whether an element (a sequence: at any depth) holds a UID the map knows."""
    if elem.VR == "UI":
        return any(v in uid_map for v in _uid_values(elem))
    if elem.VR == "SQ":
        return any(_holds_mapped(e, uid_map) for item in elem.value for e in _may_hold_uids(item))
    return False


def _remap_element(elem: DataElement, uid_map: UidMap, study: str) -> int:
    """Rewrite the mapped UIDs inside one element; return how many values changed."""
    if elem.VR == "SQ":
        return sum(
            _remap_element(e, uid_map, study) for item in elem.value for e in _may_hold_uids(item)
        )
    if elem.VR != "UI" or elem.VM == 0:
        return 0
    old = _uid_values(elem)
    new = [uid_map.resolve(v, study) for v in old]
    if new != old:
        elem.value = new[0] if elem.VM == 1 else new
    return sum(a != b for a, b in zip(old, new, strict=True))


def _uid_values(elem: DataElement) -> list[str]:
    """The element's UID values as strings (none when it is empty)."""
    if elem.VM == 0 or elem.value is None:
        return []
    return [str(elem.value)] if elem.VM == 1 else [str(v) for v in elem.value]


def _keep_original(ds: Dataset, tag: int, edits: Edits) -> None:
    """Remember a top-level element as stored (an absent one as zero-length: it was added)."""
    if tag in edits.originals:
        return
    if tag in ds:
        edits.originals[tag] = copy.deepcopy(ds[tag])
    else:
        edits.originals[tag] = DataElement(tag, dictionary_VR(tag), None)


def _record_originals(ds: Dataset, originals: Mapping[int, DataElement], now: datetime) -> None:
    """Append one Original Attributes Sequence item holding the replaced values (PS3.3 C.12.1)."""
    modified = Dataset()
    for tag in sorted(originals):
        modified.add(originals[tag])
    item = Dataset()
    item.AttributeModificationDateTime = now.strftime("%Y%m%d%H%M%S.%f%z")
    item.ModifyingSystem = MODIFYING_SYSTEM
    item.ReasonForTheAttributeModification = REASON
    item.SourceOfPreviousValues = ""  # Type 2: the values came from the hub's own archive
    item.ModifiedAttributesSequence = Sequence([modified])
    if "OriginalAttributesSequence" in ds:
        ds.OriginalAttributesSequence.append(item)
    else:
        ds.OriginalAttributesSequence = Sequence([item])
