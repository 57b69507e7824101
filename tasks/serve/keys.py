"""C-FIND, C-GET and C-MOVE identifiers as the catalog matches them (PS3.4 C.2.2.2): pure.

Each key becomes a bound parameter of catalog/sql/serve.sql: universal matching (an empty
value, or `*` alone) is NULL; single-value and wildcard matching (`*`, `?`) an anchored RE2
pattern, case-insensitive for person names; a list of UIDs a list; a date or time range
(`a-b`, `a-`, `-b`, or one value) a pair of bounds. Study Date and Study Time given together
match independently, each its own range, unless the caller negotiated combined date-time
matching (C.2.2.2.5 through SOP Class Extended Negotiation, C.5.1.1.4): then as one
date-time range. A key the rules do not allow is refused with MalformedKey, which names it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from spokesync.catalog.errors import SpokesyncError

LEVELS = ("PATIENT", "STUDY", "SERIES", "IMAGE")
TEXT, NAME, UID, DATE, TIME, INT = "text", "name", "uid", "date", "time", "int"


@dataclass(frozen=True)
class Key:
    column: str  # the catalog's column (catalog/sql/serve.sql parameter)
    kind: str
    level: str  # the level the attribute belongs to


KEYS = {
    "PatientID": Key("patient_id", TEXT, "PATIENT"),
    "IssuerOfPatientID": Key("issuer_of_patient_id", TEXT, "PATIENT"),
    "PatientName": Key("patient_name", NAME, "PATIENT"),
    "PatientBirthDate": Key("patient_birth_date", DATE, "PATIENT"),
    "PatientSex": Key("patient_sex", TEXT, "PATIENT"),
    "StudyInstanceUID": Key("study_instance_uid", UID, "STUDY"),
    "StudyDate": Key("study_date", DATE, "STUDY"),
    "StudyTime": Key("study_time", TIME, "STUDY"),
    "AccessionNumber": Key("accession_number", TEXT, "STUDY"),
    "StudyID": Key("study_id", TEXT, "STUDY"),
    "StudyDescription": Key("study_description", TEXT, "STUDY"),
    "ReferringPhysicianName": Key("referring_physician_name", NAME, "STUDY"),
    "ModalitiesInStudy": Key("modalities", TEXT, "STUDY"),
    "SeriesInstanceUID": Key("series_instance_uid", UID, "SERIES"),
    "Modality": Key("modality", TEXT, "SERIES"),
    "SeriesNumber": Key("series_number", INT, "SERIES"),
    "SeriesDescription": Key("series_description", TEXT, "SERIES"),
    "SOPInstanceUID": Key("sop_instance_uid", UID, "IMAGE"),
    "SOPClassUID": Key("sop_class_uid", UID, "IMAGE"),
    "InstanceNumber": Key("instance_number", INT, "IMAGE"),
}
RANGED = {DATE, TIME}
_UID = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")
_DATE = re.compile(r"\d{8}")
_TIME = re.compile(r"\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?")
COMBINED = ("study_date", "study_time", "study_datetime")  # C.2.2.2.5: date, time, both
_LAST = "235959.999999"  # the end of a day, for a range's upper bound
_CONTROL = re.compile(r"[\x00-\x1a\x1c-\x1f\x7f]")  # ESC (0x1b) may switch character sets


class MalformedKey(SpokesyncError):
    """A query or retrieve key the Query/Retrieve rules do not allow (PS3.4 C.2.2.2)."""


@dataclass
class Query:
    """One request's level, its catalog parameters and the keywords its answers carry."""

    level: str
    params: dict
    asked: list[str] = field(default_factory=list)  # keywords of the identifier, in order


def parse_identifier(
    ds: Dataset, levels: tuple[str, ...] = LEVELS, *, combined: bool = False
) -> Query:
    """Read the level and every matching key of an identifier; `levels` the model allows.
    `combined`: the association agreed to combined date-time matching (PS3.4 C.2.2.2.5)."""
    level = str(ds.get("QueryRetrieveLevel", "")).strip().upper()
    if level not in levels:
        raise MalformedKey(
            f"QueryRetrieveLevel {level or '(missing)'!r} is not one of {', '.join(levels)} "
            "for this information model"
        )
    params = {f"{k.column}{end}": None for k in KEYS.values() for end in _ends(k)}
    params |= {f"{COMBINED[2]}_from": None, f"{COMBINED[2]}_to": None}
    asked = [elem.keyword for elem in ds if elem.keyword and elem.keyword != "QueryRetrieveLevel"]
    for keyword in asked:
        key = KEYS.get(keyword)
        if key is None or LEVELS.index(key.level) > LEVELS.index(level):
            continue  # returned empty; a lower level's key is not matched (hierarchical)
        params.update(_parameters(keyword, key, ds[keyword].value))
    return Query(level, params | (combined_date_time(params) if combined else {}), asked)


def check_one_patient(ds: Dataset) -> None:
    """A PATIENT level C-GET or C-MOVE names one patient: its Patient ID by single value
    matching, as a retrieve's unique key must be (PS3.4 C.4.2.2.1); a wildcard or a list would
    send every matching patient's studies, so it is refused by name (never by value)."""
    value = ds.get("PatientID")
    text = "" if value is None else str(value).strip()
    if isinstance(value, MultiValue) or "\\" in text or "*" in text or "?" in text:
        raise MalformedKey("PatientID: a PATIENT level retrieve names one patient, no wildcards")


def combined_date_time(params: dict) -> dict:
    """Study Date and Study Time both given match as one range of date-times (PS3.4
    C.2.2.2.5): `20250101-20250102` with `2200-0600` is from Jan 1 22:00 to Jan 2 06:00,
    not every night. The bounds compare as text `YYYYMMDDHHMMSS.FFFFFF`; {} if either is
    universal."""
    date, time, both = COMBINED
    days = params[f"{date}_from"], params[f"{date}_to"]
    hours = params[f"{time}_from"], params[f"{time}_to"]
    if days == (None, None) or hours == (None, None):
        return {}
    low = days[0] + (hours[0] or "") if days[0] else None
    high = days[1] + (hours[1] or _LAST) if days[1] else None
    unset = {f"{column}_{end}": None for column in (date, time) for end in ("from", "to")}
    return unset | {f"{both}_from": low, f"{both}_to": high}


def _ends(key: Key) -> tuple[str, ...]:
    return ("_from", "_to") if key.kind in RANGED else ("",)


def _parameters(keyword: str, key: Key, value) -> dict:
    """The parameters one key binds; {} for universal matching."""
    values = [str(v).strip() for v in value] if isinstance(value, MultiValue) else None
    text = "" if value is None else str(value).strip()
    if values is None and text in ("", "*") and key.kind != UID:
        return {}
    if key.kind == UID:
        return {key.column: _uid_list(keyword, values or ([text] if text else []))}
    if values is not None and key.column != "modalities":
        raise MalformedKey(f"{keyword}: several values are only allowed for UIDs")
    if _CONTROL.search(text):
        raise MalformedKey(f"{keyword}: the key holds control characters")
    if key.kind in RANGED:
        low, high = _range(keyword, key.kind, text)
        return {f"{key.column}_from": low, f"{key.column}_to": high}
    if key.kind == INT:
        if not re.fullmatch(r"[+-]?\d{1,10}", text):
            raise MalformedKey(f"{keyword}: {text!r} is not an integer (IS allows no wildcards)")
        return {key.column: int(text)}
    patterns = [wildcard_pattern(v) for v in (values or [text])]
    flags = "(?i)" if key.kind == NAME else ""  # PN single values may match case-insensitively
    return {key.column: flags + "|".join(f"(?:{p})" for p in patterns)}


def _uid_list(keyword: str, uids: list[str]) -> list[str] | None:
    """List-of-UID matching; no wildcards in a UID (PS3.4 C.2.2.2.2)."""
    if not uids:
        return None
    bad = [u for u in uids if len(u) > 64 or not _UID.fullmatch(u)]
    if bad:
        raise MalformedKey(f"{keyword}: {bad[0]!r} is not a UID (digits and dots, at most 64)")
    return uids


def _range(keyword: str, kind: str, text: str) -> tuple[str | None, str | None]:
    """(lowest, highest) of a DA or TM key: one value, `a-b`, `a-` or `-b`."""
    shape = _DATE if kind == DATE else _TIME
    low, dash, high = text.partition("-")
    for part in (low, high):
        if part and not shape.fullmatch(part):
            form = "YYYYMMDD" if kind == DATE else "HHMMSS.FFFFFF"
            raise MalformedKey(f"{keyword}: the key is not a {form} value or a range of them")
    if not dash:
        high = low
    if dash and not (low or high):
        raise MalformedKey(f"{keyword}: a range needs at least one end")
    if kind == TIME and high:
        high = high + _LAST[len(high) :] if len(high) < 13 else high  # the whole last unit
    return low or None, high or None


def wildcard_pattern(text: str) -> str:
    """An RE2 pattern for a DICOM wildcard key: `*` any run, `?` one character, else literal."""
    out = []
    for char in text:
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char.isalnum():
            out.append(char)
        else:
            out.append(f"\\x{{{ord(char):x}}}")
    return "".join(out)
