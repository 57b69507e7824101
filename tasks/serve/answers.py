"""C-FIND answers built from catalog rows: pure, no I/O.

An answer carries every key the request asked for (PS3.4 C.2.2.1.3), filled from the current
values the catalog holds, empty where it holds none or does not keep the attribute, plus the
unique keys of its level and the levels above, so a client can retrieve what it found.
"""

from __future__ import annotations

from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataset import Dataset

from spokesync.tasks.serve.keys import KEYS, LEVELS, Query

COUNTS = {
    "NumberOfPatientRelatedStudies": "n_studies",
    "NumberOfPatientRelatedSeries": "n_series",
    "NumberOfPatientRelatedInstances": "n_instances",
    "NumberOfStudyRelatedSeries": "n_series",
    "NumberOfStudyRelatedInstances": "n_instances",
    "NumberOfSeriesRelatedInstances": "n_instances",
}
UNIQUE = {
    "PATIENT": ("PatientID",),
    "STUDY": ("StudyInstanceUID",),
    "SERIES": ("SeriesInstanceUID",),
    "IMAGE": ("SOPInstanceUID",),
}
CHARSET = "ISO_IR 192"  # answers are UTF-8: the catalog keeps values as text


def answer(query: Query, row: dict, ae_title: str, root_levels: tuple[str, ...]) -> Dataset:
    """The response identifier for one matching row."""
    ds = Dataset()
    ds.SpecificCharacterSet = CHARSET
    ds.QueryRetrieveLevel = query.level
    ds.RetrieveAETitle = ae_title
    for keyword in [*query.asked, *unique_keys(query.level, root_levels)]:
        if keyword in ("SpecificCharacterSet", "QueryRetrieveLevel", "RetrieveAETitle"):
            continue
        _set(ds, keyword, value_of(keyword, row))
    return ds


def unique_keys(level: str, root_levels: tuple[str, ...]) -> list[str]:
    """The unique keys of `level` and of the levels above it in the model (`root_levels`)."""
    upto = LEVELS.index(level)
    return [k for lv in root_levels if LEVELS.index(lv) <= upto for k in UNIQUE[lv]]


def value_of(keyword: str, row: dict):
    """The row's value for a keyword, or None when the catalog keeps none for it."""
    if keyword in COUNTS:
        return row.get(COUNTS[keyword])
    key = KEYS.get(keyword)
    value = row.get(key.column) if key else None
    if keyword == "ModalitiesInStudy" and value:
        return value.split("\\")
    return value


def _set(ds: Dataset, keyword: str, value) -> None:
    tag = tag_for_keyword(keyword)
    if tag is None:
        return
    vr = dictionary_VR(tag).split(" or ")[0]
    if vr == "SQ":
        ds.add_new(tag, vr, [])
        return
    if value is not None and vr == "IS":
        value = int(value)
    ds.add_new(tag, vr, value if value not in ("",) else None)


def keyword_list(ds: Dataset) -> list[str]:
    """The keywords an identifier holds (for logs: names of keys, never their values)."""
    return [keyword_for_tag(e.tag) or str(e.tag) for e in ds]
