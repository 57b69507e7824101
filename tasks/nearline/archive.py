"""Archiving a run's new objects: fetch from the drop, check fingerprints, stage series TARs."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from prefect import task
from prefect.cache_policies import NO_CACHE

from spokesync.catalog.errors import ObjectRefused
from spokesync.catalog.faults import kill_point
from spokesync.tasks.manifest.dicom_headers import identity_disagreements
from spokesync.tasks.manifest.fingerprints import read_with_fingerprint
from spokesync.tasks.nearline.index import build_index
from spokesync.tasks.nearline.tars import StagedTar, discard, publish, stage_series_tar, tar_relpath
from spokesync.tasks.nearline.volumes import stage_on_a_volume

STORED_SCHEMA = pa.schema(
    [
        ("sop_instance_uid", pa.string()),
        ("volume", pa.string()),
        ("tar_path", pa.string()),
        ("member_name", pa.string()),
        ("data_offset", pa.int64()),
        ("size", pa.int64()),
        ("sha256", pa.string()),
        ("fingerprint", pa.string()),
    ]
)


@dataclass(frozen=True)
class ArchiveBatch:
    """What one batch staged: TARs under temporary names, and a Parquet file of their members."""

    staged: list[StagedTar]
    stored_path: Path
    started: float = 0.0  # epoch seconds: when staging began and ended
    ended: float = 0.0


def series_batches(new_rows: pa.Table, series_per_batch: int) -> list[pa.Table]:
    """Split new rows into batches of whole series, so one series lands in exactly one TAR."""
    series = pc.unique(new_rows.column("series_instance_uid")).to_pylist()
    batches = []
    for start in range(0, len(series), series_per_batch):
        chosen = pa.array(series[start : start + series_per_batch])
        batches.append(new_rows.filter(pc.is_in(new_rows.column("series_instance_uid"), chosen)))
    return batches


def object_of(row: dict) -> str:
    """Name a manifest row's object for an error: its SOP UID and row (1 = first data row)."""
    where = f"SOP instance {row['sop_instance_uid']}"
    if row.get("row_id") is not None:
        where += f" (manifest row {row['row_id'] + 1})"
    return where


def resolve_object(drop: Path, row: dict) -> Path:
    """The object's file inside the drop; refuse a missing URI, web URIs (not yet) and escapes."""
    uri, what = row.get("object_uri"), object_of(row)
    if not uri:
        raise ObjectRefused(
            f"{what} is new to the hub but its manifest row has no object_uri; send the "
            "object with the drop"
        )
    if uri.startswith(("http://", "https://")):
        raise ObjectRefused(
            f"{what}: fetching {uri} over the web is not supported "
            "for drop spokes; put the file in the drop's objects/ folder"
        )
    root = drop.resolve()
    path = (drop / uri).resolve()
    if not path.is_relative_to(root):
        raise ObjectRefused(
            f"{what}: object_uri {uri!r} leads outside the drop "
            "folder (through a symlink?); keep objects inside the drop"
        )
    if not path.is_file():
        raise ObjectRefused(f"{what}: object file {uri!r} is missing from the drop")
    return path


def stage_batch(
    drop: Path, batch_path: Path, volumes: list[Path], batch: str, archived_on: date
) -> ArchiveBatch:
    """Stage one TAR per series of the batch; on any refusal remove what this batch staged."""
    started = time.time()
    staged: list[StagedTar] = []
    stored: list[dict] = []
    try:
        for series_rows in _by_series(pq.read_table(batch_path)):
            tar, members = _stage_series(drop, series_rows, volumes, batch, archived_on)
            staged.append(tar)
            stored.extend(members)
        stored_path = batch_path.with_name(batch_path.stem + "-stored.parquet")
        pq.write_table(pa.Table.from_pylist(stored, schema=STORED_SCHEMA), stored_path)
    except BaseException:
        for tar in staged:
            discard(tar)
        raise
    return ArchiveBatch(staged, stored_path, started, time.time())


def _by_series(rows: pa.Table) -> list[list[dict]]:
    groups: dict[str, list[dict]] = {}
    for row in rows.to_pylist():
        groups.setdefault(row["series_instance_uid"], []).append(row)
    return list(groups.values())


def _stage_series(
    drop: Path, rows: list[dict], volumes: list[Path], batch: str, archived_on: date
) -> tuple[StagedTar, list[dict]]:
    first = rows[0]
    sources = {f"{r['sop_instance_uid']}.dcm": (r, resolve_object(drop, r)) for r in rows}
    needed = sum(os.path.getsize(path) for _, path in sources.values())
    relpath = tar_relpath(
        archived_on, first["study_instance_uid"], first["series_instance_uid"], batch
    )
    rows_of = {n: r for n, (r, _) in sources.items()}
    prints: dict[str, str] = {}

    def check(name: str, source: Path | bytes, sha256: str) -> None:
        row, path = sources[name]
        prints[name] = verified_fingerprint(row, path)
        kill_point("object-staged")

    def write(hub: str, name: str, volume: Path) -> StagedTar:
        index = lambda: build_index(hub, name, batch, rows_of, prints)  # noqa: E731
        files = [(n, p) for n, (_, p) in sources.items()]
        return stage_series_tar(volume, relpath, files, check=check, index=index)

    volume, tar = stage_on_a_volume(volumes, needed, write)
    kill_point("tar-written")
    return tar, _member_rows(tar, rows_of, volume, relpath, prints)


def _member_rows(
    tar: StagedTar, rows: dict[str, dict], volume: str, relpath: str, prints: dict[str, str]
) -> list[dict]:
    """The catalog's row for each object of a staged TAR: where it is and what it hashes to."""
    return [
        {
            "sop_instance_uid": rows[m.name]["sop_instance_uid"],
            "volume": volume,
            "tar_path": relpath,
            "member_name": m.name,
            "data_offset": m.offset,
            "size": m.size,
            "sha256": m.sha256,
            "fingerprint": prints[m.name],
        }
        for m in tar.members
    ]


def verified_fingerprint(row: dict, path: Path) -> str:
    """Read the object once; refuse it when its header names another object than its manifest
    row (DESIGN §2, checked even for a null fingerprint) or its bytes another fingerprint."""
    try:
        computed, ds = read_with_fingerprint(path)
    except ObjectRefused as exc:  # the file's problem, said for the manifest row that sent it
        raise ObjectRefused(
            f"{object_of(row)}, {row['object_uri']}: {exc}; the object was not archived. "
            "Resend the object as the spoke holds it"
        ) from exc
    differing = identity_disagreements(ds, row)
    if differing:
        raise ObjectRefused(
            f"{object_of(row)}, {row['object_uri']}: the object's header disagrees with its "
            f"manifest row on {', '.join(differing)}; the object was not archived. Rebuild "
            "the manifest from the objects (spokesync manifest build), or resend the object "
            "the row names"
        )
    promised = row.get("fingerprint")
    if promised and promised != computed:
        raise ObjectRefused(
            f"{object_of(row)}, {row['object_uri']}: the object's fingerprint is"
            f" {computed} but the manifest says {promised}; the object was not "
            "archived. Rebuild the manifest from the objects, or resend the object"
        )
    return computed


def publish_all(batches: list[ArchiveBatch]) -> int:
    """Rename every staged TAR into place (nearline first, before the catalog transaction)."""
    count = 0
    for batch in batches:
        for tar in batch.staged:
            publish(tar)
            kill_point("tar-renamed")
            count += 1
    return count


def discard_all(batches: list[ArchiveBatch]) -> None:
    for batch in batches:
        for tar in batch.staged:
            discard(tar)


@task(name="archive-batch", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=5)
def archive_batch_task(
    drop: Path, batch_path: Path, volumes: list[Path], batch: str, archived_on: date
) -> ArchiveBatch:
    """Fetch, fingerprint-check and stage the TARs of one batch of series."""
    return stage_batch(drop, batch_path, volumes, batch, archived_on)
