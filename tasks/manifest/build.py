"""Build a spoke drop (DESIGN §2) from a folder of DICOM files.

Each file is read once: its header gives the manifest row, its stored pixel bytes (never decoded)
give the fingerprint. Values over their VR's limit are kept as sent (the hub reports them);
files that cannot go into a valid manifest are listed in rejected.parquet (and rejected.csv)
with the reason and whatever identity could be read, instead of stopping the build. The drop
is written under a temporary name beside `out` and renamed into place only when complete.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from spokesync.tasks.manifest.build_reports import write_quality, write_rejected
from spokesync.tasks.manifest.drop_write import (
    manifest_table,
    place_object,
    replace_drop,
    shown,
    utc_stamp,
    write_manifest,
)
from spokesync.tasks.manifest.scan import (
    READING,
    STARTING,
    Placing,
    Progress,
    Scanned,
    scan_files,
    silent,
)

__all__ = [  # the drop writers and the scan's phases, importable from here as before they moved
    "READING",
    "STARTING",
    "BuildResult",
    "build_drop",
    "manifest_table",
    "place_object",
    "utc_stamp",
    "write_manifest",
]

COPYING, WRITING = "copying objects into the drop", "writing manifest.parquet"


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
    started, tell = time.monotonic(), progress or silent
    dicom_dir, out = Path(dicom_dir).resolve(), Path(out).resolve()
    partial = out.with_name(f".{out.name}.building-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        files = list_source_files(dicom_dir, out)
        place = Placing(partial, link)  # each object goes into the drop as soon as it is read
        scanned = scan_files(dicom_dir, files, progress=tell, workers=workers, place=place)
        kept, rejected = select_rows(scanned)
        unplace(scanned, kept, partial)
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


def select_rows(scanned: Iterable[Scanned]) -> tuple[list[Scanned], list[Scanned]]:
    """Keep the files whose rows make a valid manifest together; the first file (by path) wins."""
    kept: list[Scanned] = []
    rejected: list[Scanned] = []
    first: dict[tuple[str, str], tuple[str, str]] = {}  # (kind, uid) -> (value, relative path)
    for item in scanned:
        reason = item.reason or _conflict(item, first)  # scan_file judged the row alone
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


def unplace(scanned: Iterable[Scanned], kept: Iterable[Scanned], out: Path) -> None:
    """Take back out of the drop being built the objects that were placed when read but whose
    rows were then refused (the drop is not yet in place: nothing a spoke sent is touched)."""
    placed = {item.row["object_uri"] for item in scanned if item.row and item.placed is not None}
    for uri in placed - {(item.row or {})["object_uri"] for item in kept}:
        (out / uri).unlink()


def place_objects(
    kept: list[Scanned],
    dicom_dir: Path,
    out: Path,
    *,
    link: bool = True,
    progress: Progress | None = None,
) -> int:
    """Put every kept file not placed yet at its row's object_uri under `out`; return how many
    of the kept files are linked."""
    tell, linked = progress or silent, 0
    tell(COPYING, 0, len(kept))
    for item in kept:
        if item.placed is None:
            target = out / (item.row or {})["object_uri"]
            linked += place_object(dicom_dir / item.relative, target, link=link)
        else:
            linked += item.placed
        tell(COPYING, 1, len(kept))
    return linked
