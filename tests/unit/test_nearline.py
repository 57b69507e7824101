"""Write-once series TARs (DESIGN §7): layout, round trip, write-once, corruption, verify."""

from __future__ import annotations

import datetime
import hashlib
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from spokesync.catalog.errors import NearlineCorrupt, NearlineUnsafe
from spokesync.tasks.nearline.listing import list_partials, list_tars
from spokesync.tasks.nearline.members import CHUNK, open_member, read_member
from spokesync.tasks.nearline.tars import (
    MemberInfo,
    StagedTar,
    discard,
    publish,
    stage_series_tar,
    tar_relpath,
)
from spokesync.tasks.nearline.volume_check import read_sha256sums, scan_tar, verify_volume
from tests.support.builders import flip_byte

STUDY = "1.2.826.0.1.3680043.8.498.1"
SERIES = "1.2.826.0.1.3680043.8.498.1.1"
RELPATH = tar_relpath(datetime.date(2026, 11, 27), STUDY, SERIES, "run-7")


@pytest.fixture
def volume(tmp_path: Path) -> Path:
    """An empty nearline volume."""
    path = tmp_path / "vol1"
    path.mkdir()
    return path


@pytest.fixture
def sources(tmp_path: Path) -> list[tuple[str, Path | bytes]]:
    """Members from files and from bytes, one larger than a copy chunk, one empty."""
    big = tmp_path / "big.dcm"
    big.write_bytes(os.urandom(2 * CHUNK + 777))
    small = tmp_path / "small.dcm"
    small.write_bytes(b"DICM" + os.urandom(1000))
    return [
        ("1.2.3.4.1.dcm", big),
        ("1.2.3.4.2.dcm", small),
        ("1.2.3.4.3.dcm", os.urandom(513)),
        ("1.2.3.4.4.dcm", b""),
    ]


def _bytes_of(source: Path | bytes) -> bytes:
    return source if isinstance(source, bytes) else source.read_bytes()


def _publish(volume: Path, sources: list[tuple[str, Path | bytes]], relpath: str = RELPATH):
    staged = stage_series_tar(volume, relpath, sources)
    return staged, publish(staged)


def test_tar_relpath_builds_dated_study_series_batch_path() -> None:
    relpath = tar_relpath(datetime.date(2027, 1, 2), STUDY, SERIES, "b-1")
    assert relpath == f"2027/01/02/{STUDY}/{SERIES}/b-1.tar"
    assert RELPATH.startswith("2026/11/27/")


@pytest.mark.parametrize(
    ("study", "series", "batch"),
    [
        ("1.2/../3", SERIES, "b"),
        ("..", SERIES, "b"),
        (STUDY, "1.2.x", "b"),
        (STUDY, "", "b"),
        (STUDY, "1." + "2" * 70, "b"),
        (STUDY, SERIES, "../b"),
        (STUDY, SERIES, "a/b"),
        (STUDY, SERIES, ".hidden"),
    ],
)
def test_tar_relpath_refuses_unsafe_uids_and_batches(study: str, series: str, batch: str) -> None:
    with pytest.raises(ValueError, match="unsafe") as err:
        tar_relpath(datetime.date(2026, 1, 2), study, series, batch)
    assert repr(study if study != STUDY else series if series != SERIES else batch) in str(err)


def test_staged_tar_is_invisible_until_published_and_then_read_only(volume: Path, sources) -> None:
    staged = stage_series_tar(volume, RELPATH, sources)
    assert staged.temp_path.parent == staged.final_path.parent
    assert not staged.final_path.exists()
    assert list(list_partials(volume)) == [staged.temp_path.relative_to(volume).as_posix()]
    final = publish(staged)
    assert final == volume / RELPATH and final.is_file()
    assert not staged.temp_path.exists()
    assert final.stat().st_mode & 0o222 == 0
    assert list(list_tars(volume)) == [RELPATH] and list(list_partials(volume)) == []


def test_offsets_let_read_member_return_exact_bytes_without_scanning(volume, sources) -> None:
    staged, final = _publish(volume, sources)
    assert [m.name for m in staged.members] == [name for name, _ in sources]
    for member, (_, source) in zip(staged.members, sources, strict=True):
        expected = _bytes_of(source)
        assert member.size == len(expected)
        assert member.sha256 == hashlib.sha256(expected).hexdigest()
        assert member.offset % 512 == 0
        assert read_member(final, member.offset, member.size, member.sha256) == expected


def test_open_member_streams_exact_bytes_of_a_multi_chunk_member(volume, sources) -> None:
    staged, final = _publish(volume, sources)
    big = staged.members[0]
    with open_member(final, big.offset, big.size, big.sha256) as stream:
        pieces = iter(lambda: stream.read(300_000), b"")
        assert b"".join(pieces) == _bytes_of(sources[0][1])
        assert stream.read() == b""


def test_python_tarfile_lists_and_extracts_identical_bytes(volume, sources) -> None:
    _, final = _publish(volume, sources)
    with tarfile.open(final, "r:") as tar:
        assert tar.getnames() == [name for name, _ in sources] + ["SHA256SUMS"]
        for name, source in sources:
            assert tar.extractfile(name).read() == _bytes_of(source)


@pytest.mark.skipif(shutil.which("tar") is None, reason="no tar program on this machine")
def test_gnu_tar_lists_and_extracts_identical_bytes(volume, sources, tmp_path) -> None:
    _, final = _publish(volume, sources)
    listing = subprocess.run(["tar", "-tf", str(final)], capture_output=True, text=True, check=True)
    assert listing.stdout.splitlines() == [name for name, _ in sources] + ["SHA256SUMS"]
    assert listing.stderr == ""
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run(["tar", "-xf", str(final), "-C", str(out)], check=True)
    for name, source in sources:
        assert (out / name).read_bytes() == _bytes_of(source)


def test_sha256sums_lists_every_member_and_passes_sha256sum_check(volume, sources, tmp_path):
    staged, final = _publish(volume, sources)
    assert read_sha256sums(final) == {m.name: m.sha256 for m in staged.members}
    out = tmp_path / "out"
    with tarfile.open(final, "r:") as tar:
        tar.extractall(out, filter="data")
    text = (out / "SHA256SUMS").read_text()
    assert text == "".join(f"{m.sha256}  {m.name}\n" for m in staged.members)
    if shutil.which("sha256sum"):
        check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=out, capture_output=True)
        assert check.returncode == 0, check.stdout


def test_scan_tar_recovers_the_offsets_and_hashes_recorded_at_staging(volume, sources) -> None:
    staged, final = _publish(volume, sources)
    assert scan_tar(final) == staged.members


def test_stage_refuses_when_the_final_tar_already_exists(volume, sources) -> None:
    _, final = _publish(volume, sources)
    before = final.read_bytes()
    with pytest.raises(FileExistsError, match="write-once"):
        stage_series_tar(volume, RELPATH, [("x.dcm", b"new")])
    assert final.read_bytes() == before
    assert list(list_partials(volume)) == []


def test_publish_never_overwrites_a_tar_that_appeared_meanwhile(volume, sources) -> None:
    late = stage_series_tar(volume, RELPATH, [("x.dcm", b"late writer")])
    _, final = _publish(volume, sources)
    before = final.read_bytes()
    with pytest.raises(FileExistsError, match="write-once"):
        publish(late)
    assert final.read_bytes() == before
    assert late.temp_path.exists()
    discard(late)
    assert not late.temp_path.exists()


def test_check_raising_aborts_staging_and_leaves_no_temp_file(volume, sources) -> None:
    seen: list[tuple[str, str]] = []

    def refuse_second(name: str, source: Path | bytes, sha256: str) -> None:
        seen.append((name, sha256))
        if len(seen) == 2:
            raise ValueError(f"fingerprint mismatch for {name}")

    with pytest.raises(ValueError, match="fingerprint mismatch for 1.2.3.4.2.dcm"):
        stage_series_tar(volume, RELPATH, sources, check=refuse_second)
    assert seen[0] == ("1.2.3.4.1.dcm", hashlib.sha256(_bytes_of(sources[0][1])).hexdigest())
    assert list(list_partials(volume)) == [] and list(list_tars(volume)) == []


@pytest.mark.parametrize(
    "name", ["../evil.dcm", "a/b.dcm", "/etc/passwd", "..", "x" * 101, "", "SHA256SUMS", "a\nb"]
)
def test_member_names_that_could_escape_or_break_sums_are_refused(volume, name) -> None:
    with pytest.raises(ValueError, match="member name"):
        stage_series_tar(volume, RELPATH, [("ok.dcm", b"1"), (name, b"2")])
    assert list(list_partials(volume)) == []


def test_duplicate_member_names_and_empty_series_are_refused(volume) -> None:
    with pytest.raises(ValueError, match="twice"):
        stage_series_tar(volume, RELPATH, [("a.dcm", b"1"), ("a.dcm", b"2")])
    with pytest.raises(ValueError, match="at least one object"):
        stage_series_tar(volume, RELPATH, [])
    assert list(list_partials(volume)) == []


def test_staging_on_an_unmounted_volume_is_refused(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="mounted"):
        stage_series_tar(tmp_path / "not-there", RELPATH, [("a.dcm", b"1")])
    assert not (tmp_path / "not-there").exists()


def test_a_flipped_byte_makes_read_member_raise_naming_the_tar(volume, sources) -> None:
    staged, final = _publish(volume, sources)
    member = staged.members[1]
    flip_byte(final, member.offset + 10)
    with pytest.raises(NearlineCorrupt) as err:
        read_member(final, member.offset, member.size, member.sha256)
    assert str(final) in str(err.value) and f"offset {member.offset}" in str(err.value)
    assert "spokesync verify" in str(err.value)
    with (
        pytest.raises(NearlineCorrupt),
        open_member(final, member.offset, member.size, member.sha256) as stream,
    ):
        stream.read()


def test_read_member_of_a_missing_or_truncated_tar_raises_nearline_corrupt(volume, sources):
    staged, final = _publish(volume, sources)
    last = staged.members[-2]
    final.chmod(0o644)
    os.truncate(final, last.offset + 100)
    with pytest.raises(NearlineCorrupt, match="ends 100 bytes into"):
        read_member(final, last.offset, last.size)
    with pytest.raises(NearlineCorrupt, match="missing"):
        read_member(volume / "nope.tar", 0, 1)


@pytest.mark.parametrize(
    ("where", "delta"),
    [("mid_data", 5), ("at_header", -512), ("mid_header", -300), ("end_blocks", None)],
)
def test_scan_tar_raises_nearline_corrupt_for_a_truncated_tar(volume, sources, where, delta):
    staged, final = _publish(volume, sources)
    if delta is None:  # keep SHA256SUMS whole, drop only the end-of-archive blocks
        with tarfile.open(final, "r:") as tar:
            cut = tar.getmember("SHA256SUMS").offset_data + 512
    else:
        cut = staged.members[1].offset + delta
    final.chmod(0o644)
    os.truncate(final, cut)
    with pytest.raises(NearlineCorrupt, match="truncated or damaged") as err:
        scan_tar(final)
    assert str(final) in str(err.value)


def test_a_damaged_header_makes_the_tar_unreadable_but_intact_members_still_verify(
    volume, sources
) -> None:
    staged, final = _publish(volume, sources)
    flip_byte(final, staged.members[2].offset - 512 + 20)  # inside the third member's header
    with pytest.raises(NearlineCorrupt):
        scan_tar(final)
    findings = verify_volume(volume, {RELPATH: staged.members})
    assert [(f.kind, f.member) for f in findings] == [("unreadable_tar", None)]


def test_verify_volume_reports_nothing_for_a_healthy_volume(volume, sources) -> None:
    staged, _ = _publish(volume, sources)
    assert verify_volume(volume, {RELPATH: staged.members}) == []


def test_verify_volume_finds_a_missing_tar(volume, sources) -> None:
    staged, final = _publish(volume, sources)
    final.unlink()
    findings = verify_volume(volume, {RELPATH: staged.members})
    assert [(f.kind, f.relpath, f.member) for f in findings] == [("missing_tar", RELPATH, None)]


def test_verify_volume_finds_the_corrupt_member_only(volume, sources) -> None:
    staged, final = _publish(volume, sources)
    flip_byte(final, staged.members[2].offset)
    findings = verify_volume(volume, {RELPATH: staged.members})
    assert [(f.kind, f.member) for f in findings] == [("corrupt_member", "1.2.3.4.3.dcm")]
    assert staged.members[2].sha256 in findings[0].detail


def test_verify_volume_finds_a_member_the_tar_does_not_hold(volume, sources) -> None:
    staged, _ = _publish(volume, sources)
    ghost = MemberInfo("9.9.9.dcm", staged.members[1].offset, 5, "0" * 64)
    findings = verify_volume(volume, {RELPATH: [*staged.members, ghost]})
    assert [(f.kind, f.member) for f in findings] == [("missing_member", "9.9.9.dcm")]


def test_verify_volume_finds_orphan_tars_and_leftover_partials(volume, sources) -> None:
    _publish(volume, sources)
    leftover: StagedTar = stage_series_tar(volume, RELPATH.replace("run-7", "run-8"), sources)
    findings = verify_volume(volume, {})
    kinds = {(f.kind, f.relpath) for f in findings}
    partial = leftover.temp_path.relative_to(volume).as_posix()
    assert kinds == {("orphan_tar", RELPATH), ("partial_tar", partial)}


def test_verify_volume_finds_a_truncated_tar_and_the_members_it_lost(volume, sources) -> None:
    staged, final = _publish(volume, sources)
    final.chmod(0o644)
    os.truncate(final, staged.members[1].offset + 5)
    findings = verify_volume(volume, {RELPATH: staged.members})
    assert findings[0].kind == "unreadable_tar" and "truncated" in findings[0].detail
    lost = [f.member for f in findings if f.kind == "corrupt_member"]
    assert lost == ["1.2.3.4.2.dcm", "1.2.3.4.3.dcm"]


def test_verify_volume_refuses_an_unmounted_volume(tmp_path) -> None:
    with pytest.raises(NearlineUnsafe, match="mounted"):
        verify_volume(tmp_path / "gone", {RELPATH: []})


def test_an_empty_member_reads_back_empty_and_its_hash_is_still_checked(volume, sources) -> None:
    staged, final = _publish(volume, sources)
    empty = staged.members[3]
    assert empty.size == 0
    assert read_member(final, empty.offset, 0, empty.sha256) == b""
    with pytest.raises(NearlineCorrupt, match="SHA-256 is"):
        read_member(final, empty.offset, 0, "f" * 64)
