"""Read one object back from a series TAR by the offset the catalog keeps, checking its SHA-256.

One seek, one bounded read: nothing scans the TAR. A short file or a wrong hash raises
NearlineCorrupt naming the TAR, the member's data offset and what to do next.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from spokesync.catalog.errors import NearlineCorrupt

CHUNK = 1 << 20  # stream in 1 MiB chunks so memory stays bounded whatever the object size


def corrupt_at(path: Path, offset: int | None, problem: str) -> NearlineCorrupt:
    """Build the error for damaged nearline bytes, naming where and what to do next; the
    bare problem stays on `.problem` for verify findings."""
    where = f"{path}" if offset is None else f"{path}: member at data offset {offset}"
    error = NearlineCorrupt(
        f"{where}: {problem}. Run `spokesync verify` on this volume and restore the TAR "
        "from a replica or the owning spoke"
    )
    error.problem = problem  # type: ignore[attr-defined]
    return error


def read_member(path: Path, offset: int, size: int, sha256: str | None = None) -> bytes:
    """Read one object by its catalog offset without scanning the TAR, checking its hash."""
    with open_member(path, offset, size, sha256) as stream:
        data = stream.read(size)
        stream.read(1)  # reach the end, where the hash is checked (even for an empty member)
        return data


def open_member(path: Path, offset: int, size: int, sha256: str | None = None) -> io.BufferedReader:
    """Open one object as a bounded stream for large objects; the hash is checked at its end."""
    try:
        raw = open(path, "rb", buffering=0)  # noqa: SIM115  closed by the returned stream
    except FileNotFoundError:
        raise corrupt_at(path, offset, "the TAR file is missing") from None
    raw.seek(offset)
    return io.BufferedReader(_MemberStream(raw, path, offset, size, sha256), CHUNK)


class _MemberStream(io.RawIOBase):
    """Reads exactly one member's bytes and raises NearlineCorrupt on a short or bad read."""

    def __init__(self, raw: io.FileIO, path: Path, offset: int, size: int, sha256: str | None):
        super().__init__()
        self._raw, self._path, self._offset, self._size = raw, path, offset, size
        self._remaining, self._expected = size, sha256
        self._digest: hashlib._Hash | None = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        view, n = memoryview(buffer)[: min(len(buffer), self._remaining)], 0
        if self._remaining:
            n = self._raw.readinto(view) or 0
            if n == 0:
                done = self._size - self._remaining
                problem = f"the file ends {done} bytes into a {self._size}-byte member"
                raise corrupt_at(self._path, self._offset, problem)
            self._digest.update(view[:n])
            self._remaining -= n
        if not self._remaining and self._digest is not None:  # check once, at the end
            actual, self._digest = self._digest.hexdigest(), None
            if self._expected is not None and actual != self._expected.lower():
                problem = f"SHA-256 is {actual}, the catalog recorded {self._expected}"
                raise corrupt_at(self._path, self._offset, problem)
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()
