"""Write-once series TARs on nearline volumes (DESIGN §7): stage and publish (read: members.py).

A TAR is written under a temporary name beside its final place, fsynced, then linked into
place without ever replacing an existing file (DESIGN §4 rule 3: nearline first). The catalog
keeps each member's data offset, size and SHA-256, so one object is read with one seek.
"""

from __future__ import annotations

import datetime
import errno
import hashlib
import io
import os
import re
import secrets
import stat
import tarfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from spokesync.catalog.errors import NearlineUnwritable, ObjectRefused
from spokesync.tasks.nearline.members import CHUNK
from spokesync.tasks.nearline.ustar import ustar_header

BLOCK = tarfile.BLOCKSIZE
SUMS_NAME = "SHA256SUMS"
INDEX_NAME = "spokesync-index.json"  # what the catalog needs to index the TAR (DESIGN §7)
PARTIAL_MARK = ".tar.partial-"
SET_ASIDE = "orphans"  # <volume>/orphans/<run id>/…: files the hub moved aside, never deleted

_NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK}
_UID = re.compile(r"[0-9]+(\.[0-9]+)*")
_SAFE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class Hashed:
    """A member held in memory whose SHA-256 a worker thread already computed from it."""

    data: bytes | bytearray | memoryview
    sha256: str


Source = Path | bytes | Hashed
Check = Callable[[str, Source, str], object]


@dataclass(frozen=True)
class MemberInfo:
    """Where one object sits in a TAR: its data offset lets a reader seek straight to it."""

    name: str
    offset: int
    size: int
    sha256: str


@dataclass
class StagedTar:
    """A fully written and fsynced TAR under its temporary name, waiting for `publish`."""

    volume: Path
    relpath: str
    temp_path: Path
    members: list[MemberInfo]

    @property
    def final_path(self) -> Path:
        """The place the TAR takes on the volume once published."""
        return volume_path(self.volume, self.relpath)


def tar_relpath(archived_on: datetime.date, study_uid: str, series_uid: str, batch: str) -> str:
    """Build `yyyy/mm/dd/<study>/<series>/<batch>.tar`, refusing values that could leave the
    volume."""
    for what, uid in (("study UID", study_uid), ("series UID", series_uid)):
        if len(uid) > 64 or not _UID.fullmatch(uid):
            raise ValueError(f"unsafe {what} {uid!r} for a nearline path: expected a DICOM UID")
    if len(batch) > 64 or not _SAFE.fullmatch(batch) or ".." in batch:
        raise ValueError(f"unsafe batch name {batch!r}: use letters, digits, '.', '_' and '-'")
    return f"{archived_on:%Y/%m/%d}/{study_uid}/{series_uid}/{batch}.tar"


def volume_path(volume: Path, relpath: str) -> Path:
    """Join a catalog relpath to its volume, refusing absolute paths and `..` parts."""
    parts = PurePosixPath(relpath).parts
    if not parts or relpath.startswith("/") or any(p in ("..", ".") for p in parts):
        raise ValueError(f"unsafe nearline relpath {relpath!r}: it must stay inside the volume")
    return Path(volume).joinpath(*parts)


def check_member_name(name: str) -> None:
    """Refuse member names that could escape an extraction folder or break SHA256SUMS."""
    if name == SUMS_NAME:
        raise ValueError(f"member name {SUMS_NAME!r} is reserved for the checksum list")
    if len(name) > 100 or ".." in name or not _SAFE.fullmatch(name):
        raise ValueError(
            f"unsafe TAR member name {name!r}: use 1-100 letters, digits, '.', '_' or '-', "
            "with no '/' and no '..'"
        )


def stage_series_tar(
    volume: Path,
    relpath: str,
    members: Iterable[tuple[str, Source]],
    *,
    check: Check | None = None,
    index: Callable[[], bytes] | None = None,
) -> StagedTar:
    """Write a series TAR, its index (built once every member was checked) and SHA256SUMS
    beside its final path and fsync it; nothing is visible under the final name until
    `publish`. A full or read-only volume raises NearlineUnwritable naming volume and path."""
    final = volume_path(volume, relpath)
    if final.exists():
        raise FileExistsError(
            f"nearline TAR {final} already exists; TARs are write-once, "
            "archive the series again under a new batch name"
        )
    make_dirs_durable(Path(volume), final.parent)
    temp = final.with_name(f"{final.name}.partial-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        with open(temp, "xb") as out:
            infos = _write_members(out, members, check)
            extra = [_write_member(out, INDEX_NAME, index(), int(time.time()))] if index else []
            _write_sums_and_end(out, infos + extra)
            out.flush()
            os.fchmod(out.fileno(), 0o444)  # write-once: nobody should open it for writing again
            os.fsync(out.fileno())
    except BaseException as exc:
        _drop_own_partial(temp)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EROFS):
            raise unwritable(Path(volume), final, exc) from None
        raise
    return StagedTar(Path(volume), relpath, temp, infos)


def unwritable(volume: Path, path: Path, exc: OSError) -> Exception:
    """A disk-full or read-only error said with the volume, the path and the fix."""
    if exc.errno == errno.ENOSPC:
        why = "the volume is full; free space or add a volume to the configuration"
    elif exc.errno == errno.EROFS:
        why = "the volume is mounted read-only; remount it read-write or add a volume"
    else:
        return exc
    return NearlineUnwritable(f"nearline volume {volume}: cannot write {path}: {why}")


def publish(staged: StagedTar) -> Path:
    """Move a staged TAR to its final name without ever replacing a file, then fsync the
    directory so the name survives a crash."""
    final = staged.final_path
    make_dirs_durable(staged.volume, final.parent)
    try:
        os.link(staged.temp_path, final)  # unlike rename, link fails if the target exists
    except FileExistsError:
        raise FileExistsError(
            f"nearline TAR {final} already exists; TARs are write-once, "
            f"the staged copy stays at {staged.temp_path}"
        ) from None
    except OSError as exc:  # a file system without hard links: check, then rename
        if exc.errno not in _NO_HARD_LINKS:
            raise
        if final.exists():
            raise FileExistsError(
                f"nearline TAR {final} already exists; TARs are write-once",
            ) from exc
        os.rename(staged.temp_path, final)
    else:
        os.unlink(staged.temp_path)
    fsync_dir(final.parent)
    return final


def discard(staged: StagedTar) -> None:
    """Drop this process's own staged TAR that will not be published (a refused batch)."""
    _drop_own_partial(staged.temp_path)


def _drop_own_partial(temp: Path) -> None:
    """The one removal on a volume: a temporary file this very process created, never published,
    never named by the catalog (bad input must leave nearline as it was). Another process's
    partial is moved aside (`set_aside`), never removed."""
    temp.unlink(missing_ok=True)


def _write_members(
    out: io.BufferedWriter, members: Iterable[tuple[str, Source]], check: Check | None
) -> list[MemberInfo]:
    """Stream every member into the TAR, hashing as it goes, and let `check` veto each one."""
    infos: list[MemberInfo] = []
    seen: set[str] = set()
    mtime = int(time.time())
    for name, source in members:
        check_member_name(name)
        if name in seen:
            raise ValueError(f"member name {name!r} appears twice in one series TAR")
        seen.add(name)
        info = _write_member(out, name, source, mtime)
        if check is not None:
            check(name, source, info.sha256)
        infos.append(info)
    if not infos:
        raise ValueError("a series TAR needs at least one object")
    return infos


def _write_member(out: io.BufferedWriter, name: str, source: Source, mtime: int) -> MemberInfo:
    """Write one ustar header, the data and its padding; return where the data landed."""
    if isinstance(source, Hashed):
        size = memoryview(source.data).nbytes
        offset = _write_header(out, name, size, mtime)
        out.write(source.data)
        digest = source.sha256
    elif isinstance(source, bytes):
        offset = _write_header(out, name, len(source), mtime)
        out.write(source)
        digest, size = hashlib.sha256(source).hexdigest(), len(source)
    else:
        with open(source, "rb") as src:
            st = os.fstat(src.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise ObjectRefused(f"{source} is not a regular file and cannot be archived")
            offset = _write_header(out, name, st.st_size, mtime)
            digest, size = _copy_exactly(src, out, st.st_size, source), st.st_size
    out.write(bytes(-size % BLOCK))
    return MemberInfo(name, offset, size, digest)


def _write_header(out: io.BufferedWriter, name: str, size: int, mtime: int) -> int:
    """Write a plain ustar header (no PAX, no GNU extensions) and return the data offset."""
    out.write(ustar_header(name, size, mtime))
    return out.tell()


def _copy_exactly(src: io.BufferedReader, out: io.BufferedWriter, size: int, path: Path) -> str:
    """Copy `size` bytes in chunks and hash them; refuse a source that changes meanwhile."""
    digest, remaining = hashlib.sha256(), size
    while remaining:
        chunk = src.read(min(CHUNK, remaining))
        if not chunk:
            raise ObjectRefused(f"{path} shrank while it was being archived; try again")
        digest.update(chunk)
        out.write(chunk)
        remaining -= len(chunk)
    if src.read(1):
        raise ObjectRefused(f"{path} grew while it was being archived; try again")
    return digest.hexdigest()


def _write_sums_and_end(out: io.BufferedWriter, infos: list[MemberInfo]) -> None:
    """Append SHA256SUMS (sha256sum -c format) and the end-of-archive blocks, padded to a
    whole record as tar itself does."""
    sums = "".join(f"{i.sha256}  {i.name}\n" for i in infos).encode("ascii")
    _write_header(out, SUMS_NAME, len(sums), int(time.time()))
    out.write(sums + bytes(-len(sums) % BLOCK) + bytes(2 * BLOCK))
    out.write(bytes(-out.tell() % tarfile.RECORDSIZE))


def make_dirs_durable(volume: Path, directory: Path) -> None:
    """Create the folders below a mounted volume, fsyncing each new folder's parent."""
    if not volume.is_dir():
        raise FileNotFoundError(f"nearline volume {volume} does not exist; is it mounted?")
    current = volume
    for part in directory.relative_to(volume).parts:
        parent, current = current, current / part
        try:
            current.mkdir()
        except FileExistsError:
            continue
        fsync_dir(parent)


def fsync_dir(directory: Path) -> None:
    """Make a folder's entries (new names, renames) durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
