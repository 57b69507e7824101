"""Build a spoke drop (DESIGN §2) from a folder of DICOM files.

Each file is read once: its header gives the manifest row, its stored pixel bytes (never decoded)
give the fingerprint. Values over their VR's limit are kept as sent (the hub reports them);
files that cannot go into a valid manifest are listed in rejected.parquet (and rejected.csv)
with the reason and whatever identity could be read, instead of stopping the build. The drop
is written under a temporary name beside `out` and renamed into place only when complete.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spokesync.catalog.errors import ObjectRefused
from spokesync.tasks.manifest.build_reports import write_quality, write_rejected
from spokesync.tasks.manifest.dicom_headers import (
    manifest_row,
    read_identity,
    unknown_character_sets,
)
from spokesync.tasks.manifest.drop_write import (
    manifest_table,
    object_uri,
    place_object,
    replace_drop,
    shown,
    utc_stamp,
    write_manifest,
)
from spokesync.tasks.manifest.fingerprints import read_with_fingerprint
from spokesync.tasks.manifest.rules import MAX_UID_LENGTH, UID_PATTERN, value_problem
from spokesync.tasks.manifest.schema import UID_COLUMNS

__all__ = [  # the drop writers, importable from here as before they moved to drop_write.py
    "BuildResult",
    "build_drop",
    "manifest_table",
    "place_object",
    "utc_stamp",
    "write_manifest",
]

# progress(phase, advanced, total): a phase begins with its first call; total None = not counted
Progress = Callable[[str, int, int | None], object]
STARTING, READING = "starting workers", "reading DICOM headers"
COPYING, WRITING = "copying objects into the drop", "writing manifest.parquet"
# manifest column that must hold a value -> the DICOM keyword named in the rejection reason
REQUIRED_VALUES = {
    "sop_instance_uid": "SOPInstanceUID",
    "sop_class_uid": "SOPClassUID",
    "series_instance_uid": "SeriesInstanceUID",
    "study_instance_uid": "StudyInstanceUID",
    "patient_id": "PatientID",
}
# Workers start from a fork server: forking a process that runs threads (Prefect) can deadlock.
# Each worker then imports pydicom and pyarrow (~1 s), which pays off only for larger folders.
PARALLEL_MIN_FILES = 1000
_UID = re.compile(UID_PATTERN)


@dataclass(frozen=True)
class BuildResult:
    """What build_drop did: counts for the CLI's summary and the paths it wrote."""

    spoke: str
    out: Path
    files_seen: int
    rows_written: int
    rejected: int
    linked: int
    manifest_path: Path
    rejected_path: Path  # rejected.csv; rejected.parquet sits beside it
    seconds: float


@dataclass(frozen=True)
class Scanned:
    """One source file's outcome: a manifest row, or the reason it cannot be one (with the
    identity that could still be read from it)."""

    relative: str  # as the file system names it (undecodable bytes kept as surrogates)
    row: dict[str, Any] | None
    reason: str | None
    identity: dict[str, str | None] = field(default_factory=dict)
    charsets: tuple[str, ...] = ()  # Specific Character Set terms the hub does not know


def build_drop(
    dicom_dir: Path,
    spoke: str,
    out: Path,
    *,
    progress: Progress | None = None,
    workers: int | None = None,
    link: bool = True,
) -> BuildResult:
    """Build the drop for `spoke` at `out` from every file under `dicom_dir`.

    Objects are hard-linked into out/objects/ (copied where linking is impossible or `link` is
    False); `workers` > 1 fingerprints in that many processes (default: up to 2 CPUs). A drop
    already at `out` is replaced only once the new one is complete.
    """
    started, tell = time.monotonic(), progress or _silent
    dicom_dir, out = Path(dicom_dir).resolve(), Path(out).resolve()
    partial = out.with_name(f".{out.name}.building-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        files = list_source_files(dicom_dir, out)
        scanned = scan_files(dicom_dir, files, progress=tell, workers=workers)
        kept, rejected = select_rows(scanned)
        linked = place_objects(kept, dicom_dir, partial, link=link, progress=tell)
        tell(WRITING, 0, None)
        write_manifest([item.row for item in kept], partial, spoke)
        write_rejected(rejected, partial)
        write_quality(kept, partial)
        replace_drop(partial, out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    paths = (out / "manifest.parquet", out / "rejected.csv")
    counts = (len(files), len(kept), len(rejected), linked)
    return BuildResult(spoke, out, *counts, *paths, round(time.monotonic() - started, 3))


def list_source_files(dicom_dir: Path, out: Path | None = None) -> list[str]:
    """Return the files under `dicom_dir` as sorted POSIX relative paths, skipping `out` and
    the temporary folders a build of `out` writes beside it.

    Names that are not valid UTF-8 come back with their bytes kept as surrogates
    (os.fsdecode), so the file can still be opened by that name.
    """
    dicom_dir = Path(dicom_dir).resolve()
    skip = Path(out).resolve() if out is not None else None
    found = []
    for path in dicom_dir.rglob("*"):
        if skip is not None and _belongs_to_build(path, skip):
            continue
        if path.is_file():
            found.append(path.relative_to(dicom_dir).as_posix())
    return sorted(found)


def _belongs_to_build(path: Path, out: Path) -> bool:
    if path.is_relative_to(out):
        return True
    parts = path.relative_to(out.parent).parts if path.is_relative_to(out.parent) else ()
    return bool(parts) and parts[0].startswith(f".{out.name}.")


def scan_files(
    dicom_dir: Path,
    files: list[str],
    *,
    progress: Progress | None = None,
    workers: int | None = None,
) -> list[Scanned]:
    """Read and fingerprint every file, in worker processes when there are enough of them
    (reported as STARTING until the first of them has read its files, then READING)."""
    tell, total = progress or _silent, len(files)
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    if workers <= 1 or total < PARALLEL_MIN_FILES:
        tell(READING, 0, total)
        return [_tick(scan_file(dicom_dir, relative), tell, total) for relative in files]
    tell(STARTING, 0, None)
    size = max(16, len(files) // (workers * 8))
    chunks = [files[i : i + size] for i in range(0, len(files), size)]
    results: list[Scanned] = []
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        for future in as_completed([pool.submit(scan_chunk, dicom_dir, c) for c in chunks]):
            done = future.result()
            results.extend(done)
            tell(READING, len(done), total)
    return sorted(results, key=lambda s: s.relative)


def scan_chunk(dicom_dir: Path, files: list[str]) -> list[Scanned]:
    """Scan a batch of files (one worker-process task)."""
    return [scan_file(dicom_dir, relative) for relative in files]


def scan_file(dicom_dir: Path, relative: str) -> Scanned:
    """Read one file once: its manifest row with fingerprint, or the reason it was refused."""
    path = Path(dicom_dir) / relative
    try:
        fingerprint, ds = read_with_fingerprint(path)
        size = path.stat().st_size
    except ObjectRefused as exc:
        reason = str(exc).removeprefix(f"{path}: ")
        return Scanned(relative, None, shown(reason), read_identity(path))
    except OSError as exc:
        return Scanned(relative, None, f"cannot be read ({exc.strerror or exc})")
    uri = object_uri(relative)
    row = manifest_row(ds, object_uri=uri, object_size=size, fingerprint=fingerprint)
    return Scanned(relative, row, None, charsets=tuple(unknown_character_sets(ds)))


def select_rows(scanned: Iterable[Scanned]) -> tuple[list[Scanned], list[Scanned]]:
    """Keep the files whose rows make a valid manifest together; the first file (by path) wins."""
    kept: list[Scanned] = []
    rejected: list[Scanned] = []
    first: dict[tuple[str, str], tuple[str, str]] = {}  # (kind, uid) -> (value, relative path)
    for item in scanned:
        reason = item.reason or _row_problem(item.row or {}) or _conflict(item, first)
        if reason is not None:
            rejected.append(Scanned(item.relative, None, reason, item.identity or item.row or {}))
            continue
        row = item.row or {}
        first[("sop", row["sop_instance_uid"])] = ("", item.relative)
        first.setdefault(
            ("series", row["series_instance_uid"]), (row["study_instance_uid"], item.relative)
        )
        first.setdefault(("study", row["study_instance_uid"]), (row["patient_id"], item.relative))
        kept.append(item)
    return kept, rejected


def _row_problem(row: Mapping[str, Any]) -> str | None:
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
        problem = (
            isinstance(value, str) and column not in UID_COLUMNS and value_problem(column, value)
        )
        if problem:
            return f"{column}: {problem}"
    return None


def _conflict(item: Scanned, first: Mapping[tuple[str, str], tuple[str, str]]) -> str | None:
    """Return why a row clashes with an earlier kept row (same SOP, other parent), or None."""
    row = item.row or {}
    sop, series, study = (
        row["sop_instance_uid"],
        row["series_instance_uid"],
        row["study_instance_uid"],
    )
    if ("sop", sop) in first:
        return f"duplicate SOP instance UID {sop} (kept {shown(first[('sop', sop)][1])})"
    owner, where = first.get(("series", series), (study, ""))
    if owner != study:
        return f"series {series} already belongs to study {owner} (in {shown(where)})"
    patient, where = first.get(("study", study), (row["patient_id"], ""))
    if patient != row["patient_id"]:
        return f"study {study} is already listed under another patient ID (in {shown(where)})"
    return None


def place_objects(
    kept: list[Scanned],
    dicom_dir: Path,
    out: Path,
    *,
    link: bool = True,
    progress: Progress | None = None,
) -> int:
    """Put every kept file at its row's object_uri under `out`; return how many were linked."""
    tell, linked = progress or _silent, 0
    tell(COPYING, 0, len(kept))
    for item in kept:
        target = out / (item.row or {})["object_uri"]
        linked += place_object(dicom_dir / item.relative, target, link=link)
        tell(COPYING, 1, len(kept))
    return linked


def _tick(item: Scanned, progress: Progress, total: int) -> Scanned:
    progress(READING, 1, total)
    return item


def _silent(phase: str, advanced: int, total: int | None) -> None:
    """The progress callback of a build nobody watches."""
