"""A night's changes at a spoke, applied to the rows of a few studies, with the ground truth.

The synthetic drop keeps almost every study as the catalog holds it; the studies chosen for a
change are edited here as plain rows, the way simulator/__init__.py edits a drop (same UID rules
per convention, docs/simulator.md), and each edit says which cc record a detector must report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.objects import write_object
from simulator.ops import REJECTION_REASONS
from simulator.state import mint_uid
from simulator.truth import APPLIED, PENDING, ExpectedRecord
from spokesync.tasks.manifest.schema import PATIENT_COLUMNS, STUDY_COLUMNS

Row = dict[str, Any]
STUDY_VALUES = ("study_instance_uid", *PATIENT_COLUMNS, *STUDY_COLUMNS)


class Night:
    """The edited studies (study UID -> rows), the records they imply and explicit deletions."""

    def __init__(self, rows: list[Row], drop: Path, seed: str) -> None:
        self.rows: dict[str, list[Row]] = {}
        for row in rows:
            self.rows.setdefault(row["study_instance_uid"], []).append(row)
        self.drop, self.seed = drop, seed
        self.records: list[ExpectedRecord] = []
        self.deletions: list[Row] = []

    def mint(self, *parts: str) -> str:
        """A new deterministic UID (44 characters) for this night."""
        return mint_uid("|".join((self.seed, *parts)))

    def values(self, study: str) -> Row:
        """The patient and study values of a study as its rows hold them."""
        return {k: self.rows[study][0][k] for k in STUDY_VALUES}

    def new_study(self, like: str, why: str) -> Row:
        """Values of a new study copying `like`, with its own UID and accession number."""
        uid = self.mint("study", like, why)
        return self.values(like) | {"study_instance_uid": uid, "accession_number": "N" + uid[-9:]}

    def move(self, rows: list[Row], to: Row, *, renew_sop: bool, renew_series: bool = True) -> None:
        """Re-parent rows under the values `to`, minting series (and SOP) UIDs as a PACS does."""
        target, moving = to["study_instance_uid"], {id(row) for row in rows}
        for study in {row["study_instance_uid"] for row in rows}:
            self.rows[study] = [r for r in self.rows[study] if id(r) not in moving]
            if not self.rows[study]:
                del self.rows[study]
        for row in rows:
            if renew_series:
                row["series_instance_uid"] = self.mint("series", row["series_instance_uid"], target)
            if renew_sop:
                row["sop_instance_uid"] = self.mint("sop", row["sop_instance_uid"], target)
            row.update(to)
            self.rows.setdefault(target, []).append(row)

    def record(
        self, kind: str, sources: tuple, targets: tuple, attributes: dict | None = None
    ) -> None:
        """Expect one cc record (UID fixes and ambiguous pairings wait for review)."""
        status = PENDING if kind in ("UID_FIX", "AMBIGUOUS") else APPLIED
        self.records.append(
            ExpectedRecord(kind, status, tuple(sorted(sources)), tuple(sorted(targets)), attributes)
        )

    def all_rows(self) -> list[Row]:
        """Every row of the edited studies, as the drop will hold them."""
        return [row for rows in self.rows.values() for row in rows]


def series_of(rows: list[Row]) -> list[str]:
    """The series UIDs of some rows, sorted."""
    return sorted({r["series_instance_uid"] for r in rows})


def split(night: Night, study: str, patient: Row, convention: str) -> None:
    """Move some series (or half the images) to a new study of another patient."""
    rows = night.rows[study]
    series = series_of(rows)
    if len(series) > 1:
        moving = [r for r in rows if r["series_instance_uid"] in series[: len(series) // 2]]
    else:
        moving = sorted(rows, key=lambda r: r["instance_number"])[len(rows) // 2 :]
    target = night.new_study(study, "split") | patient
    night.move(moving, target, renew_sop=convention == "orthanc")
    night.record("SPLIT", (study,), (target["study_instance_uid"],))


def merge(night: Night, first: str, second: str, into_new: bool) -> None:
    """Combine two studies into the first or into a new one; merged images get new SOP UIDs."""
    target = night.new_study(first, "merge") if into_new else night.values(first)
    emptied = [first, second] if into_new else [second]
    for study in emptied:
        night.move(list(night.rows[study]), target, renew_sop=True)
    night.record("MERGE", tuple(emptied), (target["study_instance_uid"],))


def segment(night: Night, study: str, convention: str) -> None:
    """Move the second half of a study to a new study of its patient, plus one duplicate."""
    rows = sorted(night.rows[study], key=lambda r: r["instance_number"])
    target = night.new_study(study, "segment")
    copy = dict(rows[0])
    night.rows[study].append(copy)
    night.move([copy], target, renew_sop=True)
    night.move(rows[len(rows) // 2 :], target, renew_sop=convention == "orthanc")
    night.record("SEGMENT", (study,), (study, target["study_instance_uid"]))


def correct(night: Night, study: str, attribute: str, convention: str) -> None:
    """Correct one attribute of the study (or its first series); Orthanc re-identifies it, and a
    re-identified study is a UID fix that waits for review (DESIGN §4), its value change within."""
    rows = night.rows[study]
    if attribute == "series_description":
        rows = [r for r in rows if r["series_instance_uid"] == series_of(rows)[0]]
    old = rows[0][attribute]
    new = {"patient_name": "FAKE^CORRECTED^", "study_description": "Corrected study ",
           "series_description": "Corrected series "}[attribute] + study[-6:]  # fmt: skip
    for row in rows:
        row[attribute] = new
    target, kind = study, "ATTRIBUTES"
    if convention == "orthanc":  # a re-identified study waits for review (DESIGN §4)
        values = night.values(study) | {"study_instance_uid": night.mint("study", study, "modify")}
        night.move(list(night.rows[study]), values, renew_sop=True)
        target, kind = values["study_instance_uid"], "UID_FIX"
    night.record(kind, (study,), (target,), {attribute: (old, new)})


def delete_series(night: Night, study: str) -> None:
    """Remove the study's last series from the manifest."""
    last = series_of(night.rows[study])[-1]
    night.rows[study] = [r for r in night.rows[study] if r["series_instance_uid"] != last]
    night.record("DELETE", (study,), ())


def delete_study(night: Night, study: str, reason_code: str) -> None:
    """Remove the whole study and name it in deletions.parquet with an IOCM reason."""
    del night.rows[study]
    text = REJECTION_REASONS[reason_code]
    night.deletions.append(
        {"level": "study", "uid": study, "reason_code": reason_code, "reason_text": text}
    )
    night.record("DELETE", (study,), ())


def fix_uid(night: Night, study: str, convention: str) -> None:
    """Match the study to its order: new study UID and accession number (pending review)."""
    old = night.rows[study][0]["accession_number"]
    new = "FIX" + night.mint("accession", study)[-9:]
    target = night.values(study) | {
        "study_instance_uid": night.mint("study", study, "fix"),
        "accession_number": new,
    }
    renew = convention == "orthanc"  # IMPAX changes the study UID only
    night.move(list(night.rows[study]), target, renew_sop=renew, renew_series=renew)
    night.record(
        "UID_FIX", (study,), (target["study_instance_uid"],), {"accession_number": (old, new)}
    )


def add_objects(night: Night, values: Row, count: int, why: str) -> None:
    """Add `count` real objects in one new series of the study `values` describe."""
    study = values["study_instance_uid"]
    existing = night.rows.setdefault(study, [])
    number = 1 + max((r["series_number"] or 0 for r in existing), default=0)
    series = night.mint("series", study, why)
    template = existing[0] if existing else values
    for n in range(1, count + 1):
        row = dict(template) | values | {
            "series_instance_uid": series, "sop_instance_uid": night.mint("sop", series, str(n)),
            "series_number": number, "instance_number": n,
            "series_description": f"Added {why}",
        }  # fmt: skip
        existing.append(write_object(night.drop, row))
    night.record("NEW_OBJECTS", (), (study,))


def new_patient(tag: str) -> Row:
    """Values of a patient the catalog does not know yet."""
    return {"patient_id": f"NEW{tag}", "issuer_of_patient_id": "HOSP-NORTH",
            "patient_name": f"FAKE^NEW^{tag}", "patient_birth_date": "19800101",
            "patient_sex": "O"}  # fmt: skip


def new_study(night: Night, tag: str, count: int) -> None:
    """A study of a new patient, all of it new to the hub."""
    uid = night.mint("study", "new", tag)
    values = new_patient(tag) | {
        "study_instance_uid": uid,
        "accession_number": "N" + uid[-9:], "study_id": "1", "study_date": "20261127",
        "study_time": "230000", "study_description": "New study",
        "referring_physician_name": "FAKE^REFERRER^1", "study_status": None,
    }  # fmt: skip
    add_objects(night, values, count, "new-study")
