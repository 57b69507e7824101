"""QIDO-RS and WADO-RS requests as the C-FIND identifiers the SCP matches (PS3.18 §8.3.4): pure.

A query parameter names an attribute by keyword (`PatientID`) or tag (`00100020`); its value is
matched exactly as the same key of a C-FIND (tasks.serve.keys): wildcards, UID lists (comma or
backslash separated), date and time ranges. `limit`, `offset` and `includefield` shape the
answer; `fuzzymatching` is accepted and ignored. A parameter the rules do not allow is refused
with BadParameter, which names the parameter and never its value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataset import Dataset

from spokesync.tasks.serve.answers import COUNTS, answer
from spokesync.tasks.serve.keys import KEYS, LEVELS, MalformedKey, Query, parse_identifier

STUDY_ROOT = LEVELS[1:]  # DICOMweb has no patient level: the Study Root model
_TAG = re.compile(r"[0-9A-Fa-f]{8}")
DEFAULTS = {  # the attributes each level returns when not asked (PS3.18 Table 10.6.3-3..5)
    "STUDY": ["StudyDate", "StudyTime", "AccessionNumber", "ModalitiesInStudy",
              "ReferringPhysicianName", "PatientName", "PatientID", "PatientBirthDate",
              "PatientSex", "StudyInstanceUID", "StudyID", "StudyDescription",
              "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances"],
    "SERIES": ["Modality", "SeriesDescription", "SeriesNumber", "SeriesInstanceUID",
               "NumberOfSeriesRelatedInstances"],
    "IMAGE": ["SOPClassUID", "SOPInstanceUID", "InstanceNumber"],
}  # fmt: skip
LEVEL_COUNTS = {"STUDY": "Study", "SERIES": "Series"}


class BadParameter(MalformedKey):
    """A query parameter QIDO-RS or this server does not allow; the message names it."""


@dataclass
class Search:
    """One QIDO-RS request: the C-FIND query and which slice of the matches to answer."""

    query: Query
    limit: int | None = None
    offset: int = 0
    names: list[str] = field(default_factory=list)  # parameter names, for the log


def keyword_of(name: str) -> str:
    """The attribute keyword a parameter names, by keyword or by 8-digit hex tag."""
    if _TAG.fullmatch(name):
        keyword = keyword_for_tag(int(name, 16))
    else:
        keyword = name if tag_for_keyword(name) is not None else ""
    if not keyword:
        raise BadParameter(f"query parameter {name!r} is not a DICOM attribute keyword or tag")
    return keyword


def identifier(level: str, keys: dict[str, str]) -> Query:
    """Parse {keyword: value} as a C-FIND identifier at `level`; a bad key names its parameter."""
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    for keyword in DEFAULTS[level]:
        _put(ds, keyword, "")
    for keyword, value in keys.items():
        _put(ds, keyword, value)
        try:  # key by key, so the refusal names the one at fault
            parse_identifier(_single(level, keyword, ds), STUDY_ROOT)
        except MalformedKey as exc:
            raise BadParameter(_without(str(exc), value)) from None
        except Exception as exc:  # pydicom could not hold the value in the attribute's VR
            raise BadParameter(f"{keyword}: not a valid value ({type(exc).__name__})") from None
    return parse_identifier(ds, STUDY_ROOT)


def search(level: str, path: dict[str, str], params: list[tuple[str, str]]) -> Search:
    """A QIDO-RS request at `level`: path UIDs and query parameters as one C-FIND query."""
    keys, wanted, shape = dict(path), [], {"limit": None, "offset": "0"}
    for name, value in params:
        if name in shape or name == "fuzzymatching":
            shape[name] = value
        elif name == "includefield":
            wanted += [v for part in value.split(",") if (v := part.strip())]
        else:
            keyword = keyword_of(name)
            if keyword not in KEYS:
                raise BadParameter(f"query parameter {name!r} is not a key this server matches")
            if LEVELS.index(KEYS[keyword].level) > LEVELS.index(level):
                raise BadParameter(f"query parameter {name!r} is below the {level} level")
            keys[keyword] = value.replace(",", "\\") if KEYS[keyword].kind == "uid" else value
    included = _included(level, wanted)
    query = identifier(level, {k: "" for k in included if k not in keys} | keys)
    return Search(query, _count("limit", shape["limit"]), _count("offset", shape["offset"]) or 0,
                  [n for n, _ in params])  # fmt: skip


def answers_json(found: Search, rows: list[dict], ae_title: str) -> list[dict]:
    """The application/dicom+json answer of the matches in the requested slice."""
    end = None if found.limit is None else found.offset + found.limit
    out = []
    for row in rows[found.offset : end]:
        ds = answer(found.query, row, ae_title, STUDY_ROOT)
        del ds.QueryRetrieveLevel
        out.append(ds.to_json_dict())
    return out


def _included(level: str, wanted: list[str]) -> list[str]:
    """The attributes `includefield` adds: named ones, or `all` that the catalog keeps."""
    if "all" in wanted:
        upto = LEVELS.index(level)
        own = [k for k, key in KEYS.items() if 0 < LEVELS.index(key.level) <= upto]
        counts = [k for k in COUNTS if any(k.startswith(f"NumberOf{w}") for w in _counted(level))]
        return own + counts
    return [keyword_of(name) for name in wanted]


def _counted(level: str) -> list[str]:
    return [LEVEL_COUNTS[lv] for lv in LEVEL_COUNTS if LEVELS.index(lv) <= LEVELS.index(level)]


def _count(name: str, value: str | None) -> int | None:
    if value is None:
        return None
    if not re.fullmatch(r"\d{1,9}", value.strip()):
        raise BadParameter(f"query parameter {name!r} must be a whole number")
    return int(value)


def _put(ds: Dataset, keyword: str, value: str) -> None:
    tag = tag_for_keyword(keyword)
    vr = dictionary_VR(tag).split(" or ")[0]
    if vr == "SQ":
        ds.add_new(tag, vr, [])
    else:
        ds.add_new(tag, vr, value or None)


def _single(level: str, keyword: str, ds: Dataset) -> Dataset:
    one = Dataset()
    one.QueryRetrieveLevel = level
    one[keyword] = ds[keyword]
    return one


def _without(message: str, value: str) -> str:
    """The refusal with the parameter's value (or a part of it) left out."""
    for part in sorted({value, *re.split(r"[\\,-]", value)}, key=len, reverse=True):
        if part.strip():
            message = message.replace(repr(part.strip()), "(the value)")
    return message
