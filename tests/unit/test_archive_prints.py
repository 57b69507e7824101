"""Fingerprints computed in worker processes are the ones computed in process, refusals too."""

from __future__ import annotations

import shutil

import pytest
from pydicom.data import get_testdata_file

from catalog.errors import ObjectRefused
from tasks import archive_prints
from tasks.archive_prints import BatchPrints
from tasks.fingerprints import fingerprint_file


def test_workers_give_the_same_fingerprints_and_refusals(tmp_path, monkeypatch):
    monkeypatch.setattr(archive_prints, "PARALLEL_MIN_OBJECTS", 1)
    paths = []
    for name in ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm"):
        paths.append(tmp_path / name)
        shutil.copyfile(get_testdata_file(name), paths[-1])
    broken = tmp_path / "broken.dcm"
    broken.write_bytes(paths[0].read_bytes()[:1000])
    with BatchPrints([*paths, broken], workers=2) as prints:
        assert [prints.get(p) for p in paths] == [fingerprint_file(p) for p in paths]
        with pytest.raises(ObjectRefused, match="broken.dcm"):
            prints.get(broken)
