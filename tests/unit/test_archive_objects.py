"""Archiving's per-object work in worker threads: one read per object, refusals named by their
manifest row, answers in order and a refusal raised in its place."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file

from spokesync.catalog.errors import ObjectRefused
from spokesync.tasks.manifest.dicom_headers import IDENTITY_COLUMNS, TEXT_COLUMNS, text_value
from spokesync.tasks.manifest.fingerprints import fingerprint_file
from spokesync.tasks.nearline.objects import prepare
from spokesync.tasks.nearline.read_ahead import read_ahead
from spokesync.tasks.nearline.tars import Hashed

NAMES = ("CT_small.dcm", "MR_small.dcm", "MR_small_bigendian.dcm", "JPEG2000.dcm", "rtplan.dcm")


def job(tmp_path: Path, name: str, row_id: int = 0) -> tuple[str, tuple[dict, Path]]:
    """A copy of a pydicom test file and the manifest row that names it."""
    path = tmp_path / f"{row_id}-{name}"
    shutil.copyfile(get_testdata_file(name), path)
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    row = {c: text_value(ds.get(TEXT_COLUMNS[c])) for c in IDENTITY_COLUMNS}
    row |= {"row_id": row_id, "object_uri": f"objects/{path.name}", "fingerprint": None}
    return f"{ds.SOPInstanceUID}.dcm", (row, path)


@pytest.mark.parametrize("name", NAMES)
def test_one_read_gives_the_member_hash_and_the_fingerprint_of_the_file(tmp_path, name):
    member, (row, path) = job(tmp_path, name)
    ready, buffer = prepare((member, (row, path)), bytearray())
    assert isinstance(ready.source, Hashed)
    assert ready.source.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert bytes(ready.source.data) == path.read_bytes()
    assert ready.fingerprint == fingerprint_file(path)
    again, reused = prepare((member, (row, path)), buffer)
    assert reused is buffer and again.fingerprint == ready.fingerprint


def test_an_object_gone_from_the_drop_is_refused_by_its_manifest_row(tmp_path):
    member, (row, path) = job(tmp_path, "CT_small.dcm", row_id=4)
    path.unlink()
    with pytest.raises(ObjectRefused, match=r"\(manifest row 5\), objects/4-CT_small.dcm: cannot"):
        prepare((member, (row, path)), bytearray())


def test_a_cut_object_is_refused_by_its_manifest_row_and_said_to_be_resent(tmp_path):
    member, (row, path) = job(tmp_path, "CT_small.dcm", row_id=1)
    path.write_bytes(path.read_bytes()[:20_000])
    with pytest.raises(ObjectRefused, match=r"manifest row 2.*truncated.*Resend the object"):
        prepare((member, (row, path)), bytearray())


def test_answers_come_in_order_and_a_refusal_is_raised_in_its_place(tmp_path):
    jobs = [job(tmp_path, name, i) for i, name in enumerate(NAMES * 3)]
    cut = jobs[9][1][1]
    cut.write_bytes(cut.read_bytes()[:-300])
    seen = []
    with pytest.raises(ObjectRefused, match="manifest row 10"):
        for ready in read_ahead(jobs, prepare):
            seen.append(ready.name)
            assert bytes(ready.source.data) == jobs[len(seen) - 1][1][1].read_bytes()
    assert seen == [name for name, _ in jobs[:9]]
