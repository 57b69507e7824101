"""Archiving a run's new objects: fetch from the drop, check fingerprints, stage series TARs.

Each object is read once, checked and hashed by worker threads ahead of the TAR writer
(tasks/nearline/objects.py, read_ahead.py); one fsync per TAR, nothing published before it."""

from __future__ import annotations

import os
import time
from contextlib import closing
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from prefect import task
from prefect.cache_policies import NO_CACHE

from spokesync.catalog.faults import kill_point
from spokesync.tasks.nearline.index import build_index
from spokesync.tasks.nearline.objects import prepare, recorded, resolve_object
from spokesync.tasks.nearline.read_ahead import read_ahead
from spokesync.tasks.nearline.tars import (
    Source,
    StagedTar,
    discard,
    publish,
    stage_series_tar,
    tar_relpath,
)
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
    root = drop.resolve()
    sources = {f"{r['sop_instance_uid']}.dcm": (r, resolve_object(drop, r, root)) for r in rows}
    needed = sum(os.path.getsize(path) for _, path in sources.values())
    relpath = tar_relpath(
        archived_on, first["study_instance_uid"], first["series_instance_uid"], batch
    )
    rows_of = {n: r for n, (r, _) in sources.items()}
    prints: dict[str, str] = {}

    def staged(name: str, source: Source, sha256: str) -> None:
        kill_point("object-staged")  # checked and hashed before it was written (objects.py)

    def write(hub: str, name: str, volume: Path) -> StagedTar:
        index = lambda: build_index(hub, name, batch, rows_of, prints)  # noqa: E731
        with closing(read_ahead(sources.items(), prepare)) as ready:
            members = recorded(ready, prints)
            return stage_series_tar(volume, relpath, members, check=staged, index=index)

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


@task(
    name="archive-batch",
    cache_policy=NO_CACHE,
    persist_result=False,
    retries=1,
    retry_delay_seconds=5,
)
def archive_batch_task(
    drop: Path, batch_path: Path, volumes: list[Path], batch: str, archived_on: date
) -> ArchiveBatch:
    """Fetch, fingerprint-check and stage the TARs of one batch of series."""
    return stage_batch(drop, batch_path, volumes, batch, archived_on)
