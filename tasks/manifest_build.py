"""Build a spoke drop (DESIGN §2) from a folder of DICOM files, and write drops for any producer.

Each file is read once: its header gives the manifest row, its stored pixel bytes (never decoded)
give the fingerprint. Files that cannot go into a valid manifest are listed in rejected.csv with
the reason instead of stopping the build.
"""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from catalog.errors import ObjectRefused
from tasks.dicom_headers import manifest_row
from tasks.fingerprints import read_with_fingerprint
from tasks.manifest_rules import MAX_UID_LENGTH, UID_PATTERN, value_problem
from tasks.manifest_schema import (
    FINGERPRINT_VERSION,
    MANIFEST_FORMAT,
    MANIFEST_SCHEMA,
    UID_COLUMNS,
)

Progress = Callable[[int], object]
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
ROW_GROUP = 122_880  # DuckDB's row group size: readers use every core
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
    rejected_path: Path
    seconds: float


@dataclass(frozen=True)
class Scanned:
    """One source file's outcome: a manifest row, or the reason it cannot be one."""

    relative: str
    row: dict[str, Any] | None
    reason: str | None


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
    False); `workers` > 1 fingerprints in that many processes (default: up to 2 CPUs).
    """
    started = time.monotonic()
    dicom_dir, out = Path(dicom_dir).resolve(), Path(out).resolve()
    files = list_source_files(dicom_dir, out)
    scanned = scan_files(dicom_dir, files, progress=progress, workers=workers)
    rows, rejected = select_rows(scanned)
    counts = (len(files), len(rows), len(rejected), place_objects(rows, dicom_dir, out, link=link))
    paths = (write_manifest(rows, out, spoke), write_rejected(rejected, out))
    return BuildResult(spoke, out, *counts, *paths, round(time.monotonic() - started, 3))


def list_source_files(dicom_dir: Path, out: Path | None = None) -> list[str]:
    """Return the files under `dicom_dir` as sorted POSIX relative paths, skipping `out`."""
    dicom_dir = Path(dicom_dir).resolve()
    skip = Path(out).resolve() if out is not None else None
    found = []
    for path in dicom_dir.rglob("*"):
        if skip is not None and path.is_relative_to(skip):
            continue
        if path.is_file():
            found.append(path.relative_to(dicom_dir).as_posix())
    return sorted(found)


def scan_files(
    dicom_dir: Path,
    files: list[str],
    *,
    progress: Progress | None = None,
    workers: int | None = None,
) -> list[Scanned]:
    """Read and fingerprint every file, in worker processes when there are enough of them."""
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    if workers <= 1 or len(files) < PARALLEL_MIN_FILES:
        return [_tick(scan_file(dicom_dir, relative), progress) for relative in files]
    size = max(16, len(files) // (workers * 8))
    chunks = [files[i : i + size] for i in range(0, len(files), size)]
    results: list[Scanned] = []
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        for future in as_completed([pool.submit(scan_chunk, dicom_dir, c) for c in chunks]):
            done = future.result()
            results.extend(done)
            if progress is not None:
                progress(len(done))
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
        return Scanned(relative, None, str(exc).removeprefix(f"{path}: "))
    except OSError as exc:
        return Scanned(relative, None, f"cannot be read ({exc.strerror or exc})")
    row = manifest_row(
        ds, object_uri=f"objects/{relative}", object_size=size, fingerprint=fingerprint
    )
    return Scanned(relative, row, None)


def select_rows(scanned: Iterable[Scanned]) -> tuple[list[dict[str, Any]], list[Scanned]]:
    """Keep the rows that make a valid manifest together; the first file (by path) wins."""
    rows: list[dict[str, Any]] = []
    rejected: list[Scanned] = []
    first: dict[tuple[str, str], tuple[str, str]] = {}  # (kind, uid) -> (value, relative path)
    for item in scanned:
        reason = item.reason or _row_problem(item.row or {}) or _conflict(item, first)
        if reason is not None:
            rejected.append(Scanned(item.relative, None, reason))
            continue
        row = item.row or {}
        first[("sop", row["sop_instance_uid"])] = ("", item.relative)
        first.setdefault(
            ("series", row["series_instance_uid"]), (row["study_instance_uid"], item.relative)
        )
        first.setdefault(("study", row["study_instance_uid"]), (row["patient_id"], item.relative))
        rows.append(row)
    return rows, rejected


def _row_problem(row: Mapping[str, Any]) -> str | None:
    """Return why a row breaks the manifest contract on its own (DESIGN §2), or None."""
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
        return f"duplicate SOP instance UID {sop} (kept {first[('sop', sop)][1]})"
    owner, where = first.get(("series", series), (study, ""))
    if owner != study:
        return f"series {series} already belongs to study {owner} (in {where})"
    patient, where = first.get(("study", study), (row["patient_id"], ""))
    if patient != row["patient_id"]:
        return f"study {study} is already listed under another patient ID (in {where})"
    return None


def place_objects(
    rows: Iterable[Mapping[str, Any]], dicom_dir: Path, out: Path, *, link: bool = True
) -> int:
    """Put every row's source file at its object_uri under `out`; return how many were linked."""
    linked = 0
    for row in rows:
        source = dicom_dir / row["object_uri"].removeprefix("objects/")
        linked += place_object(source, out / row["object_uri"], link=link)
    return linked


def place_object(source: Path, target: Path, *, link: bool = True) -> bool:
    """Put a byte-identical object at `target` (hard link, else copy); True if it was linked."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    partial.unlink(missing_ok=True)
    linked = False
    if link:
        try:
            os.link(source, partial)
            linked = True
        except OSError:  # another file system, or links not allowed: copy instead
            linked = False
    if not linked:
        shutil.copyfile(source, partial)
    os.replace(partial, target)
    return linked


def write_manifest(
    rows_or_table: pa.Table | Iterable[Mapping[str, Any]],
    out: Path,
    spoke: str,
    generated_at: datetime | None = None,
) -> Path:
    """Write manifest.parquet (MANIFEST_SCHEMA) and manifest.json into `out`, each atomically.

    A table's extra columns are kept after the schema's; dict rows keep only schema columns.
    A naive `generated_at` is taken as UTC; the default is now.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = manifest_table(rows_or_table)
    target = out / "manifest.parquet"
    partial = out / f".manifest.parquet.{os.getpid()}.part"
    pq.write_table(table, partial, row_group_size=ROW_GROUP)
    _fsync(partial)
    os.replace(partial, target)
    meta = {
        "spoke": spoke,
        "generated_at": utc_stamp(generated_at),
        "format": MANIFEST_FORMAT,
        "fingerprint": FINGERPRINT_VERSION,
    }
    _write_text(out / "manifest.json", json.dumps(meta, indent=2) + "\n")
    return target


def manifest_table(rows_or_table: pa.Table | Iterable[Mapping[str, Any]]) -> pa.Table:
    """Return a table whose first columns are exactly MANIFEST_SCHEMA (typed, in order)."""
    if not isinstance(rows_or_table, pa.Table):
        return pa.Table.from_pylist(list(rows_or_table), schema=MANIFEST_SCHEMA)
    table = rows_or_table
    columns, fields = [], list(MANIFEST_SCHEMA)
    for field in MANIFEST_SCHEMA:
        if field.name in table.column_names:
            columns.append(table.column(field.name).cast(field.type))
        else:
            columns.append(pa.nulls(len(table), field.type))
    for name in table.column_names:
        if name not in MANIFEST_SCHEMA.names:
            columns.append(table.column(name))
            fields.append(table.schema.field(name))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def write_rejected(rejected: Iterable[Scanned], out: Path) -> Path:
    """Write rejected.csv (path, reason) into `out`, with a header even when nothing was."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "reason"])
    writer.writerows([item.relative, item.reason] for item in rejected)
    target = Path(out) / "rejected.csv"
    _write_text(target, buffer.getvalue())
    return target


def utc_stamp(moment: datetime | None = None) -> str:
    """Return `moment` (default now) as ISO-8601 UTC with a Z, to the second."""
    moment = moment or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_text(target: Path, text: str) -> None:
    """Write a small text file atomically: a temporary sibling, fsynced, renamed into place."""
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    partial.write_text(text, encoding="utf-8")
    _fsync(partial)
    os.replace(partial, target)


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _tick(item: Scanned, progress: Progress | None) -> Scanned:
    if progress is not None:
        progress(1)
    return item
