"""The pull that turns a PACS listing into a drop, driven by an in-memory fake PACS."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file

from spokesync.catalog.errors import SpokeUnavailable
from spokesync.tasks.manifest.drop_read import read_drop
from spokesync.tasks.manifest.fingerprints import fingerprint_file
from spokesync.tasks.spokes.pull import FETCHING, LISTING, pull_drop
from spokesync.tasks.spokes.source import LISTED_COLUMNS, StudyRef, listing_of, object_path
from tests.support.builders import uid

STUDY, OTHER = uid("study", 1), uid("study", 2)


def image(study: str, n: int) -> pydicom.Dataset:
    ds = copy.deepcopy(pydicom.dcmread(get_testdata_file("CT_small.dcm")))
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, uid(study, "series")
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid(study, "sop", n)
    ds.InstanceNumber = n
    ds.PixelData = bytes([n]) * len(ds.PixelData)  # its own fingerprint
    return ds


@dataclass
class FakePacs:
    """Lists and sends the objects it holds; knobs make it misbehave as real ones do."""

    held: dict[str, list[pydicom.Dataset]]
    where: str = "fake://pacs"
    omit: tuple[str, ...] = ()  # keywords its listing leaves out
    reported: dict[str, int] = field(default_factory=dict)  # counts its study query claims
    listed_twice: bool = False
    send_instead: dict[str, str] = field(default_factory=dict)  # asked SOP UID -> sent one
    fetched: list[str] = field(default_factory=list)

    def studies(self, since):
        for study, objects in self.held.items():
            yield StudyRef(study, self.reported.get(study, len(objects)))

    def instances(self, study: StudyRef):
        listing = []
        for ds in self.held[study.study_instance_uid]:
            header = copy.deepcopy(ds)
            del header.PixelData
            for keyword in self.omit:
                header.pop(keyword, None)
            listing.append(header)
        return listing_of(listing + listing[:1] if self.listed_twice else listing)

    def fetch(self, refs, objects: Path):
        by_uid = {ds.SOPInstanceUID: ds for found in self.held.values() for ds in found}
        for ref in refs:
            sent = self.send_instead.get(ref.sop_instance_uid, ref.sop_instance_uid)
            if sent not in by_uid:
                continue  # deleted at the spoke meanwhile: nothing arrives
            path = object_path(objects, ref.sop_instance_uid, self.where)
            by_uid[sent].save_as(path, enforce_file_format=True)
            self.fetched.append(ref.sop_instance_uid)
            yield ref.sop_instance_uid, path

    def close(self):
        pass


def nothing_known(sop_uids):
    return {}


def catalog_row(fingerprint: str, **values) -> dict:
    """What catalog.known.known_instances gives for one instance: every listed column."""
    return {"fingerprint": fingerprint, **dict.fromkeys(LISTED_COLUMNS), **values}


def test_a_pull_writes_a_valid_drop_with_fingerprints_from_the_bytes(tmp_path):
    pacs = FakePacs({STUDY: [image(STUDY, 1), image(STUDY, 2)], OTHER: [image(OTHER, 1)]})

    result = pull_drop(pacs, "north", tmp_path / "drop", nothing_known)

    drop = read_drop(tmp_path / "drop", "north")
    assert (result.studies, result.instances, result.fetched, result.known) == (2, 3, 3, 0)
    for row in drop.manifest.to_pylist():
        assert row["fingerprint"] == fingerprint_file(tmp_path / "drop" / row["object_uri"])


def test_objects_the_catalog_holds_are_not_fetched_and_take_its_fingerprint(tmp_path):
    held = image(STUDY, 1)
    pacs = FakePacs({STUDY: [held, image(STUDY, 2)]})
    catalog = {held.SOPInstanceUID: catalog_row("px1:" + "a" * 64)}

    result = pull_drop(pacs, "north", tmp_path / "drop", lambda uids: catalog)

    rows = {
        r["sop_instance_uid"]: r for r in read_drop(tmp_path / "drop", "north").manifest.to_pylist()
    }
    assert pacs.fetched == [image(STUDY, 2).SOPInstanceUID]
    assert (result.fetched, result.known) == (1, 1)
    assert rows[held.SOPInstanceUID]["fingerprint"] == "px1:" + "a" * 64
    assert rows[held.SOPInstanceUID]["object_uri"] is None


def test_a_column_the_pacs_never_returns_comes_from_the_catalog_and_the_objects(tmp_path):
    known, new = image(STUDY, 1), image(STUDY, 2)
    known.StudyStatusID = new.StudyStatusID = "VERIFIED"
    pacs = FakePacs({STUDY: [known, new]}, omit=("StudyStatusID",))
    catalog = {known.SOPInstanceUID: catalog_row("px1:" + "b" * 64, study_status="READ")}

    result = pull_drop(pacs, "north", tmp_path / "drop", lambda uids: catalog)

    rows = {
        r["sop_instance_uid"]: r for r in read_drop(tmp_path / "drop", "north").manifest.to_pylist()
    }
    assert "study_status" in result.unsupplied
    assert rows[known.SOPInstanceUID]["study_status"] == "READ"  # the hub's value: no change
    assert rows[new.SOPInstanceUID]["study_status"] == "VERIFIED"  # the object's own header


def test_an_empty_value_the_pacs_returns_is_not_mistaken_for_a_missing_column(tmp_path):
    pacs = FakePacs({STUDY: [image(STUDY, 1)]})

    result = pull_drop(pacs, "north", tmp_path / "drop", nothing_known)

    assert "study_description" not in result.unsupplied  # CT_small carries it
    assert "study_status" in result.unsupplied  # CT_small has no Study Status ID at all


def test_a_study_whose_listing_disagrees_with_its_count_is_refused(tmp_path):
    pacs = FakePacs({STUDY: [image(STUDY, 1), image(STUDY, 2)]}, reported={STUDY: 3})

    with pytest.raises(SpokeUnavailable, match=f"study {STUDY} lists 2 instances but"):
        pull_drop(pacs, "north", tmp_path / "drop", nothing_known)
    assert not (tmp_path / "drop" / "manifest.json").exists()


def test_an_instance_listed_twice_becomes_one_manifest_row(tmp_path):
    pacs = FakePacs({STUDY: [image(STUDY, 1), image(STUDY, 2)]}, listed_twice=True)

    assert pull_drop(pacs, "north", tmp_path / "drop", nothing_known).instances == 2


def test_an_object_that_does_not_arrive_stops_the_pull(tmp_path):
    pacs = FakePacs({STUDY: [image(STUDY, 1)]})
    pacs.send_instead = {image(STUDY, 1).SOPInstanceUID: uid("gone")}

    with pytest.raises(SpokeUnavailable, match="were not delivered, first SOP instance"):
        pull_drop(pacs, "north", tmp_path / "drop", nothing_known)


def test_an_object_that_is_not_the_one_asked_for_is_refused(tmp_path):
    first, second = image(STUDY, 1), image(STUDY, 2)
    pacs = FakePacs({STUDY: [first, second]})
    pacs.send_instead = {first.SOPInstanceUID: second.SOPInstanceUID}

    with pytest.raises(SpokeUnavailable, match=f"asked for SOP instance {first.SOPInstanceUID}"):
        pull_drop(pacs, "north", tmp_path / "drop", nothing_known)


@pytest.mark.parametrize("bad", ["../../etc/passwd", "1.2.3/../../x", "", "1.2.03", "9" * 65])
def test_a_sop_uid_from_a_pacs_never_becomes_a_path_outside_the_objects_folder(tmp_path, bad):
    with pytest.raises(SpokeUnavailable, match="is not a valid DICOM UID"):
        object_path(tmp_path, bad, "fake://pacs")


def test_a_pull_reports_each_study_listed_then_each_object_fetched_out_of_those_wanted(tmp_path):
    held = image(STUDY, 1)
    pacs = FakePacs({STUDY: [held, image(STUDY, 2)], OTHER: [image(OTHER, 1)]})
    catalog = {held.SOPInstanceUID: catalog_row("px1:" + "a" * 64)}
    calls: list[tuple] = []

    pull_drop(pacs, "north", tmp_path / "drop", lambda uids: catalog,
              progress=lambda *told: calls.append(told))  # fmt: skip

    assert calls == [
        (LISTING, 0, None), (LISTING, 1, None), (LISTING, 1, None),
        (FETCHING, 0, 2), (FETCHING, 1, 2), (FETCHING, 1, 2),
    ]  # fmt: skip
