"""A pulled object's row comes from one read and the Part 10 walk; it is the row pydicom gives."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pydicom
import pytest
from pydicom.data import get_testdata_file

from spokesync.catalog.errors import ObjectRefused
from spokesync.tasks.manifest.dicom_headers import manifest_row
from spokesync.tasks.manifest.fingerprints import read_with_fingerprint
from spokesync.tasks.manifest.scan_walk import walked_row
from spokesync.tasks.spokes.fetched_row import fetched_row
from spokesync.tasks.spokes.pull import pull_drop
from spokesync.tasks.spokes.source import StudyRef, listing_of, object_path
from tests.support.builders import pydicom_test_files

USUAL, UNUSUAL = "CT_small.dcm", "MR_small_bigendian.dcm"  # big endian: only pydicom reads it


def parsed_row(path: Path, object_uri: str) -> dict:
    """The row as the pull made it before the walk: pydicom's parse and hash."""
    fingerprint, ds = read_with_fingerprint(path)
    size = path.stat().st_size
    return manifest_row(ds, object_uri=object_uri, object_size=size, fingerprint=fingerprint)


def is_walked(path: Path) -> bool:
    try:
        return walked_row(memoryview(path.read_bytes()), str(path), "x") is not None
    except ObjectRefused:
        return False


def test_every_pydicom_test_file_fetched_gives_the_row_pydicom_gives():
    walked = 0
    for name in pydicom_test_files():
        path = Path(name)
        try:
            expected = parsed_row(path, f"objects/{path.name}")
        except ObjectRefused as refused:  # the pull refuses it just as before, in pydicom's words
            with pytest.raises(ObjectRefused) as again:
                fetched_row(path, f"objects/{path.name}")
            assert str(again.value) == str(refused), path.name
            continue
        assert fetched_row(path, f"objects/{path.name}") == expected, path.name
        walked += is_walked(path)
    assert walked >= 10  # the fast path is taken: CT, MR, RT dose, colour and overlay images


def test_an_unusual_object_goes_to_pydicom_and_gives_its_row():
    path = Path(get_testdata_file(UNUSUAL))
    assert not is_walked(path)
    assert fetched_row(path, "objects/u.dcm") == parsed_row(path, "objects/u.dcm")


class FilePacs:
    """A PACS holding real files in one study; its listing omits Study Status ID."""

    where = "fake://files"

    def __init__(self, files: list[Path]) -> None:
        self.files = {pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID: f for f in files}

    def studies(self, since):
        yield StudyRef("1.2.3", len(self.files))

    def instances(self, study: StudyRef):
        headers = [pydicom.dcmread(f, stop_before_pixels=True) for f in self.files.values()]
        for ds in headers:
            ds.StudyInstanceUID = "1.2.3"
            ds.pop("StudyStatusID", None)
        return listing_of(headers)

    def fetch(self, refs, objects: Path):
        for ref in refs:
            path = object_path(objects, ref.sop_instance_uid, self.where)
            shutil.copyfile(self.files[ref.sop_instance_uid], path)
            yield ref.sop_instance_uid, path

    def close(self):
        pass


def test_a_pull_of_usual_and_unusual_objects_writes_the_rows_pydicom_gives(tmp_path):
    files = [Path(get_testdata_file(USUAL)), Path(get_testdata_file(UNUSUAL))]
    result = pull_drop(FilePacs(files), "north", tmp_path / "drop", lambda uids: {})
    rows = pq.read_table(tmp_path / "drop" / "manifest.parquet").to_pylist()  # one made-up study
    assert "study_status" in result.unsupplied  # then filled from each object's header
    assert [is_walked(f) for f in files] == [True, False]
    for row in rows:
        expected = parsed_row(tmp_path / "drop" / row["object_uri"], row["object_uri"])
        pulled = ("fingerprint", "object_uri", "object_size", "transfer_syntax_uid",
                  *result.unsupplied)  # fmt: skip
        assert {c: row[c] for c in pulled} == {c: expected[c] for c in pulled}
        assert row["sop_instance_uid"] == expected["sop_instance_uid"]


def test_a_cut_short_object_stops_the_pull_naming_its_file_and_writes_no_drop(tmp_path):
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(Path(get_testdata_file(USUAL)).read_bytes()[:-1000])  # pixel data cut short
    sop_uid = pydicom.dcmread(cut, stop_before_pixels=True).SOPInstanceUID
    with pytest.raises(ObjectRefused, match=sop_uid.replace(".", r"\.")):
        pull_drop(FilePacs([Path(get_testdata_file(UNUSUAL)), cut]), "north", tmp_path / "drop",
                  lambda uids: {})  # fmt: skip
    assert not (tmp_path / "drop" / "manifest.json").exists()
