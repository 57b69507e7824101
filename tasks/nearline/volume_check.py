"""Scan nearline TARs and check a volume against the catalog (DESIGN §7 `verify`).

Everything here reads; nothing repairs. `verify_volume` is pure in the sense that it takes
what the catalog expects as a plain dict and returns findings, so it never touches DuckDB.
"""

from __future__ import annotations

import hashlib
import os
import re
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from spokesync.catalog.errors import NearlineCorrupt, NearlineUnsafe
from spokesync.tasks.manifest.rules import UID_PATTERN
from spokesync.tasks.nearline.listing import list_partials, list_set_aside, list_tars
from spokesync.tasks.nearline.members import CHUNK, corrupt_at
from spokesync.tasks.nearline.tars import (
    BLOCK,
    SET_ASIDE,
    SUMS_NAME,
    MemberInfo,
    check_member_name,
    volume_path,
)

_UID = re.compile(UID_PATTERN)
FindingKind = Literal[
    "missing_tar",
    "corrupt_member",
    "missing_member",
    "orphan_tar",
    "partial_tar",
    "unreadable_tar",
    "corrupt_sums",
    "set_aside",
]

ORPHAN_DETAIL = (
    "no catalog row points at this TAR; if its run never committed (killed before its "
    f"commit), the next run moves it aside under {SET_ASIDE}/"
)
PARTIAL_DETAIL = (
    "temporary TAR left by an interrupted archive run; the next run moves it aside once its "
    "writer is gone"
)
SET_ASIDE_DETAIL = (
    "moved aside by the hub (a run that never committed left it); the catalog does not need "
    "it and nothing was deleted"
)


@dataclass(frozen=True)
class Finding:
    """One problem `verify` found on a volume; `member` is None for whole-TAR findings.

    `studies`, `series` and `sops` name what the problem touches (filled in from the catalog,
    or from the TAR's path for files the catalog does not know)."""

    kind: FindingKind
    volume: Path
    relpath: str
    member: str | None
    detail: str
    studies: tuple[str, ...] = ()
    series: tuple[str, ...] = ()
    sops: tuple[str, ...] = ()


def read_headers(path: Path) -> list[tuple[str, int, int]]:
    """List every member's name, data offset and size from the headers alone, refusing a TAR
    that is truncated or lacks its end-of-archive blocks."""
    try:
        size = os.path.getsize(path)
        with tarfile.open(path, "r:") as tar:
            found = [_confined(path, m) for m in tar]
            end = tar.offset
        with open(path, "rb") as f:
            f.seek(end)
            marker = f.read(2 * BLOCK)
    except (OSError, tarfile.TarError) as exc:
        raise corrupt_at(path, None, f"the TAR is truncated or damaged ({exc})") from None
    for name, offset, length in found:
        if offset + length > size:
            raise corrupt_at(path, offset, f"member {name!r} runs past the end of the file")
    if marker != bytes(2 * BLOCK):
        raise corrupt_at(path, end, "no end-of-archive marker: the TAR is truncated or damaged")
    return found


def _confined(path: Path, member: tarfile.TarInfo) -> tuple[str, int, int]:
    """A member as (name, offset, size); refuse one that could land outside an extraction
    folder: a name with '/', '..' or an absolute path, or a link or device instead of a file."""
    try:
        if member.name != SUMS_NAME:
            check_member_name(member.name)
    except ValueError as exc:
        raise corrupt_at(path, member.offset_data, str(exc)) from None
    if not member.isreg():
        problem = f"member {member.name!r} is not a regular file (a link or a device)"
        raise corrupt_at(path, member.offset_data, problem)
    return member.name, member.offset_data, member.size


def hash_member(path: Path, offset: int, size: int) -> str:
    """SHA-256 of one member's bytes read by offset in 1 MiB chunks."""
    digest, remaining = hashlib.sha256(), size
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            while remaining:
                chunk = f.read(min(CHUNK, remaining))
                if not chunk:
                    raise corrupt_at(
                        path,
                        offset,
                        f"the file ends {size - remaining} bytes into a {size}-byte member",
                    )
                digest.update(chunk)
                remaining -= len(chunk)
    except FileNotFoundError:
        raise corrupt_at(path, offset, "the TAR file is missing") from None
    return digest.hexdigest()


def scan_tar(path: Path) -> list[MemberInfo]:
    """Read a TAR's real members with offsets and freshly computed hashes (not SHA256SUMS)."""
    return [
        MemberInfo(name, offset, size, hash_member(path, offset, size))
        for name, offset, size in read_headers(path)
        if name != SUMS_NAME
    ]


def read_sha256sums(path: Path) -> dict[str, str]:
    """Parse the TAR's own SHA256SUMS member into {member name: hex digest}."""
    sums = [(offset, size) for name, offset, size in read_headers(path) if name == SUMS_NAME]
    if not sums:
        raise corrupt_at(path, None, f"the TAR has no {SUMS_NAME} member")
    offset, size = sums[-1]
    with open(path, "rb") as f:
        f.seek(offset)
        text = f.read(size).decode("ascii", errors="replace")
    result: dict[str, str] = {}
    for line in text.splitlines():
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64:
            raise corrupt_at(path, offset, f"{SUMS_NAME} has a malformed line {line!r}")
        result[name] = digest
    return result


def path_uids(relpath: str) -> tuple[str, ...]:
    """The study and series UIDs a nearline path names (`yyyy/mm/dd/<study>/<series>/<file>`)."""
    parts = PurePosixPath(relpath).parts
    if len(parts) != 6 or not all(_UID.fullmatch(p) for p in parts[3:5]):
        return ()
    return parts[3], parts[4]


def verify_volume(
    volume: Path,
    expected: dict[str, list[MemberInfo]],
    *,
    known: set[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[Finding]:
    """Re-hash every member `expected` lists, and report orphan and partial TARs. `known` is
    every TAR the whole catalog names on this volume (default: those in `expected`), so a TAR
    a filter left out is not an orphan; `progress(bytes)` is told after each TAR is checked."""
    volume = Path(volume)
    if not volume.is_dir():
        raise NearlineUnsafe(
            f"nearline volume {volume} does not exist; is it mounted? Mount it, or fix its "
            "path under [nearline] volumes in the configuration"
        )
    findings: list[Finding] = []
    for relpath in sorted(expected):
        findings += _verify_tar(volume, relpath, expected[relpath])
        if progress is not None:
            progress(sum(m.size for m in expected[relpath]))
    return findings + unknown_files(volume, set(expected) if known is None else known)


def unknown_files(volume: Path, known: set[str]) -> list[Finding]:
    """TARs no catalog row names, temporary TARs of interrupted runs, and files set aside."""
    return [
        *(Finding("orphan_tar", volume, rel, None, ORPHAN_DETAIL)
          for rel in list_tars(volume) if rel not in known),
        *(Finding("partial_tar", volume, rel, None, PARTIAL_DETAIL)
          for rel in list_partials(volume)),
        *(Finding("set_aside", volume, rel, None, SET_ASIDE_DETAIL)
          for rel in list_set_aside(volume)),
    ]  # fmt: skip


def _verify_tar(volume: Path, relpath: str, members: list[MemberInfo]) -> list[Finding]:
    """Check one expected TAR: it exists, its headers agree, every member's bytes hash right."""
    path = volume_path(volume, relpath)
    if not path.is_file():
        return [
            Finding(
                "missing_tar",
                volume,
                relpath,
                None,
                f"the catalog expects {len(members)} objects in this TAR",
            )
        ]
    findings: list[Finding] = []
    try:
        layout: set[tuple[str, int, int]] | None = set(read_headers(path))
    except NearlineCorrupt as exc:
        layout = None
        findings.append(
            Finding("unreadable_tar", volume, relpath, None, getattr(exc, "problem", str(exc)))
        )
    for member in members:
        finding = _verify_member(volume, relpath, path, member, layout)
        if finding is not None:
            findings.append(finding)
    if layout is not None:  # a member already found missing or corrupt is not named twice
        named = {f.member for f in findings}
        findings += _verify_sums(volume, relpath, path, [m for m in members if m.name not in named])
    return findings


def _verify_sums(volume: Path, relpath: str, path: Path, members: list[MemberInfo]) -> list:
    """The TAR's own SHA256SUMS must list every member with the hash the catalog recorded."""
    try:
        sums = read_sha256sums(path)
    except NearlineCorrupt as exc:
        return [Finding("corrupt_sums", volume, relpath, None, getattr(exc, "problem", str(exc)))]
    return [
        Finding(
            "corrupt_sums",
            volume,
            relpath,
            m.name,
            f"{SUMS_NAME} says {sums.get(m.name, 'nothing')}, the catalog recorded {m.sha256}",
        )
        for m in members
        if sums.get(m.name, "").lower() != m.sha256.lower()
    ]


def _verify_member(
    volume: Path,
    relpath: str,
    path: Path,
    member: MemberInfo,
    layout: set[tuple[str, int, int]] | None,
) -> Finding | None:
    """Check one member by its catalog offset; headers are compared when they could be read."""
    if layout is not None and (member.name, member.offset, member.size) not in layout:
        return Finding(
            "missing_member",
            volume,
            relpath,
            member.name,
            f"no {member.size}-byte member of this name has data at offset {member.offset}",
        )
    try:
        actual = hash_member(path, member.offset, member.size)
    except NearlineCorrupt as exc:
        return Finding(
            "corrupt_member", volume, relpath, member.name, getattr(exc, "problem", str(exc))
        )
    if actual != member.sha256.lower():
        return Finding(
            "corrupt_member",
            volume,
            relpath,
            member.name,
            f"SHA-256 is {actual}, the catalog recorded {member.sha256}",
        )
    return None
