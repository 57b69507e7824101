"""Reading a folder's files for `spokesync manifest build`: one read of each file gives its
manifest row with fingerprint, or the reason it cannot be one; two worker processes share a large
folder in large batches."""

from __future__ import annotations

import multiprocessing
import os
import re
import shutil
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spokesync.catalog.errors import ObjectRefused
from spokesync.tasks.manifest.dicom_headers import (
    manifest_row,
    read_identity,
    unknown_character_sets,
)
from spokesync.tasks.manifest.drop_write import object_uri, shown
from spokesync.tasks.manifest.fingerprints import read_with_fingerprint
from spokesync.tasks.manifest.rules import (
    CONTROL_PATTERN,
    MAX_UID_LENGTH,
    UID_PATTERN,
    refused_length,
    value_problem,
)
from spokesync.tasks.manifest.scan_walk import walked_file
from spokesync.tasks.manifest.schema import MANIFEST_SCHEMA, UID_COLUMNS

# progress(phase, advanced, total): a phase begins with its first call; total None = not counted
Progress = Callable[[str, int, int | None], object]
STARTING, READING = "starting workers", "reading DICOM headers"
# Workers pay off only for larger folders (a fork server's workers import pydicom, ~1 s).
PARALLEL_MIN_FILES = 1000

# manifest column that must hold a value -> the DICOM keyword named in the rejection reason
REQUIRED_VALUES = {
    "sop_instance_uid": "SOPInstanceUID",
    "sop_class_uid": "SOPClassUID",
    "series_instance_uid": "SeriesInstanceUID",
    "study_instance_uid": "StudyInstanceUID",
    "patient_id": "PatientID",
}
_UID = re.compile(UID_PATTERN)
_CONTROL = re.compile(CONTROL_PATTERN)
_REFUSED_LENGTH = {name: refused_length(name) for name in MANIFEST_SCHEMA.names}


@dataclass(frozen=True)
class Scanned:
    """One source file's outcome: a manifest row, or the reason it cannot be one (with the
    identity that could still be read from it)."""

    relative: str  # as the file system names it (undecodable bytes kept as surrogates)
    row: dict[str, Any] | None
    reason: str | None
    identity: dict[str, str | None] = field(default_factory=dict)
    charsets: tuple[str, ...] = ()  # Specific Character Set terms the hub does not know
    placed: bool | None = None  # already in the drop at its object_uri: True linked, False copied


@dataclass(frozen=True)
class Placing:
    """Where scanned objects go as soon as they are read: the drop being built, and whether
    they are hard-linked there (copied where linking is impossible) or copied."""

    out: Path
    link: bool = True


def scan_files(
    dicom_dir: Path,
    files: list[str],
    *,
    progress: Progress | None = None,
    workers: int | None = None,
    place: Placing | None = None,
) -> list[Scanned]:
    """Read and fingerprint every file, in worker processes when there are enough of them
    (reported as STARTING until the first of them has read its files, then READING); with
    `place`, each file with a row is also put into the drop by the process that read it."""
    tell, total = progress or silent, len(files)
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    if workers <= 1 or total < PARALLEL_MIN_FILES:
        tell(READING, 0, total)
        placed = _Placer(dicom_dir, place)
        return [_tick(placed(scan_file(dicom_dir, name)), tell, total) for name in files]
    tell(STARTING, 0, None)
    size = max(16, len(files) // (workers * 8))
    chunks = [files[i : i + size] for i in range(0, len(files), size)]
    results: list[Scanned] = []
    with ProcessPoolExecutor(max_workers=workers, mp_context=_worker_context()) as pool:
        for future in as_completed([pool.submit(scan_chunk, dicom_dir, c, place) for c in chunks]):
            done = future.result()
            results.extend(done)
            tell(READING, len(done), total)
    return sorted(results, key=lambda s: s.relative)


def _worker_context() -> multiprocessing.context.BaseContext:
    """How workers start: forked when this process runs no other thread (no lock can be held
    across the fork), so they start at once with every module loaded; else from a fork server
    (forking a process that runs threads, as Prefect's, can deadlock) that loads them once."""
    if threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def scan_chunk(dicom_dir: Path, files: list[str], place: Placing | None = None) -> list[Scanned]:
    """Scan (and place) a batch of files: one worker-process task."""
    placed = _Placer(dicom_dir, place)
    return [placed(scan_file(dicom_dir, relative)) for relative in files]


def scan_file(dicom_dir: Path, relative: str) -> Scanned:
    """Read one file once: its manifest row with fingerprint, or the reason it was refused.

    A usual file's row comes from the walk of its bytes (tasks.manifest.scan_walk); pydicom
    reads any other, and words every refusal, as it always has."""
    path = Path(dicom_dir) / relative
    uri = object_uri(relative)
    found = walked_file(path, uri)
    if found is not None:
        return _judged(Scanned(relative, found[0], None, charsets=tuple(found[1])))
    try:
        fingerprint, ds = read_with_fingerprint(path)
        size = path.stat().st_size
    except ObjectRefused as exc:
        reason = str(exc).removeprefix(f"{path}: ")
        return Scanned(relative, None, shown(reason), read_identity(path))
    except OSError as exc:
        return Scanned(relative, None, f"cannot be read ({exc.strerror or exc})")
    row = manifest_row(ds, object_uri=uri, object_size=size, fingerprint=fingerprint)
    return _judged(Scanned(relative, row, None, charsets=tuple(unknown_character_sets(ds))))


def _judged(item: Scanned) -> Scanned:
    """The item, or its refusal when its row breaks the manifest contract on its own."""
    reason = row_problem(item.row or {})
    return item if reason is None else Scanned(item.relative, None, reason, item.row or {})


def row_problem(row: Mapping[str, Any]) -> str | None:
    """Return why a row breaks the manifest contract on its own (DESIGN §2), or None.

    A value over its VR's limit is no reason: real PACS send them, and the hub reports them.
    """
    for column, keyword in REQUIRED_VALUES.items():
        if not row.get(column):
            return f"no {keyword}: a manifest row needs one"
    for column in UID_COLUMNS:
        value = row.get(column)
        if value is not None and (len(value) > MAX_UID_LENGTH or not _UID.match(value)):
            return f"malformed {column} {value[:80]!r} (DICOM UID syntax, at most 64 characters)"
    for column, value in row.items():
        if not isinstance(value, str) or column in UID_COLUMNS:
            continue
        limit = _REFUSED_LENGTH.get(column) or refused_length(column)
        if len(value) > limit or _CONTROL.search(value):  # then value_problem words it
            return f"{column}: {value_problem(column, value)}"
    return None


class _Placer:
    """Put each scanned object with a row at its object_uri in the drop being built (a private
    folder renamed into place when complete), making each folder once."""

    def __init__(self, dicom_dir: Path, place: Placing | None) -> None:
        self.source, self.place, self.made = os.fspath(dicom_dir), place, set[str]()

    def __call__(self, item: Scanned) -> Scanned:
        if self.place is None or item.row is None:
            return item
        target = os.path.join(self.place.out, item.row["object_uri"])
        folder = os.path.dirname(target)
        if folder not in self.made:
            os.makedirs(folder, exist_ok=True)
            self.made.add(folder)
        source = os.path.join(self.source, item.relative)
        try:
            linked = _link(source, target) if self.place.link else False
            if not linked:
                with open(source, "rb") as src, open(target, "xb") as dst:
                    shutil.copyfileobj(src, dst)
        except FileExistsError:  # another file has this object_uri: the build places it later
            return item
        return Scanned(item.relative, item.row, item.reason, item.identity, item.charsets, linked)


def _link(source: str, target: str) -> bool:
    """Hard-link `source` at `target`; False where links are impossible (another file system)."""
    try:
        os.link(source, target)
    except FileExistsError:
        raise
    except OSError:
        return False
    return True


def _tick(item: Scanned, progress: Progress, total: int) -> Scanned:
    progress(READING, 1, total)
    return item


def silent(phase: str, advanced: int, total: int | None) -> None:
    """The progress callback of a build nobody watches."""
