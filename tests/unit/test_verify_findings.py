"""What verify says about a finding: SHA256SUMS against the catalog, and the UIDs it touches."""

from __future__ import annotations

import datetime
from pathlib import Path

from spokesync.tasks.nearline.tars import SUMS_NAME, publish, stage_series_tar, tar_relpath
from spokesync.tasks.nearline.verify import affected
from spokesync.tasks.nearline.volume_check import Finding, path_uids, read_headers, verify_volume

STUDY, SERIES = "1.2.826.0.1.3680043.8.498.1", "1.2.826.0.1.3680043.8.498.1.1"
RELPATH = tar_relpath(datetime.date(2026, 12, 2), STUDY, SERIES, "run-1")
ROWS = [  # two instances over the first member (a segment duplicate), one over the second
    {"member_name": "a.dcm", "study_instance_uid": "9.1", "series_instance_uid": "9.1.1",
     "sop_instance_uid": "9.1.1.1"},
    {"member_name": "a.dcm", "study_instance_uid": "9.2", "series_instance_uid": "9.2.1",
     "sop_instance_uid": "9.2.1.1"},
    {"member_name": "b.dcm", "study_instance_uid": "9.1", "series_instance_uid": "9.1.1",
     "sop_instance_uid": "9.1.1.2"},
]  # fmt: skip


def finding(kind: str, member: str | None, relpath: str = RELPATH) -> Finding:
    return Finding(kind, Path("/vol"), relpath, member, "detail")


def test_a_sha256sums_line_that_disagrees_with_the_catalog_names_its_member(tmp_path):
    staged = stage_series_tar(tmp_path, RELPATH, [("a.dcm", b"a" * 600), ("b.dcm", b"b" * 70)])
    tar = publish(staged)
    [(_, offset, _)] = [h for h in read_headers(tar) if h[0] == SUMS_NAME]
    tar.chmod(0o644)
    with open(tar, "r+b") as f:  # one bit of the first character of b.dcm's line
        f.seek(offset + 65 + len("  a.dcm\n") - 1)
        digit = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([digit[0] ^ 0x01]))
    findings = verify_volume(tmp_path, {RELPATH: staged.members})
    assert [(f.kind, f.member) for f in findings] == [("corrupt_sums", "b.dcm")]
    assert staged.members[1].sha256 in findings[0].detail


def test_a_nearline_path_names_its_study_and_series_and_any_other_path_names_nothing():
    assert path_uids(RELPATH) == (STUDY, SERIES)
    assert path_uids(RELPATH + ".partial-12-ab") == (STUDY, SERIES)
    assert path_uids("lost+found/x.tar") == () and path_uids("a/b/c/d/e/f.tar") == ()


def test_a_member_finding_names_every_instance_over_its_bytes():
    named = affected(finding("corrupt_member", "a.dcm"), ROWS)
    assert (named.studies, named.series) == (("9.1", "9.2"), ("9.1.1", "9.2.1"))
    assert named.sops == ("9.1.1.1", "9.2.1.1")


def test_a_whole_tar_finding_names_every_instance_of_the_tar():
    named = affected(finding("missing_tar", None), ROWS)
    assert named.studies == ("9.1", "9.2") and len(named.sops) == 3


def test_an_orphan_tar_is_named_by_the_study_and_series_of_its_path():
    named = affected(finding("orphan_tar", None), ROWS)
    assert (named.studies, named.series, named.sops) == ((STUDY,), (SERIES,), ())
