"""Orphans of runs that never committed: the next run moves their TARs aside, never deletes them.

A run names its TARs `<yyyy/mm/dd>/<study>/<series>/<run id>.tar` and stages them beside that
name as `<run id>.tar.partial-<pid>-<hex>`; its work folder keeps the batches it meant to
archive. So a run killed before its commit can be traced from its work folder alone, without
walking the volumes. The next run does that under the catalog's writer lock, before publishing
its own TARs: a published TAR of a run the catalog does not know was renamed under the lock of a
process that is gone (publishing and the commit share one lock hold), so no catalog row points at
it and none ever will. It is moved to `<volume>/orphans/<run id>/<its relpath>` (a rename within
the volume: nothing archived is ever deleted, DESIGN §7), where `verify` lists it as set aside.
A partial TAR is moved aside once the process named in its name is gone (on this host: a writer
in another PID namespace looks gone, and then its publish fails and its run stops without
changing the catalog). Moving them out of the archive tree, rather than reusing them, keeps one
rule for every kill point: the re-run archives its objects exactly once, in its own TARs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pyarrow.parquet as pq

from spokesync.tasks.nearline.tars import (
    SET_ASIDE,
    fsync_dir,
    make_dirs_durable,
    tar_relpath,
    volume_path,
)
from spokesync.tasks.reconcile.state import BATCH_GLOB

log = logging.getLogger("spokesync.orphans")
SWEPT = "orphans-set-aside"  # marker in a dead run's work folder: its nearline files moved aside


def sweep_orphans(work_root: Path, volumes: list[Path], recorded: set[str], current: str) -> int:
    """Move aside the TARs of every run in `work_root` that the catalog never recorded; return
    how many files moved. Call it holding the catalog's writer lock."""
    moved = 0
    if not Path(work_root).is_dir():
        return 0
    for work in sorted(Path(work_root).iterdir()):
        if work.name in recorded or work.name == current or (work / SWEPT).exists():
            continue
        if work.is_dir() and any(work.glob(BATCH_GLOB)):
            moved += sweep_run(work, volumes)
    if moved:
        log.warning("moved %d nearline file(s) of runs that never committed under %s/ on their "
                    "volume; nothing was deleted", moved, SET_ASIDE)  # fmt: skip
    return moved


def sweep_run(work: Path, volumes: list[Path]) -> int:
    """Move one dead run's published and partial TARs aside; mark it done unless a writer
    lives."""
    moved, alive = 0, False
    for volume, final in planned_tars(work, volumes):
        for partial in sorted(final.parent.glob(f"{final.name}.partial-*")):
            if writer_alive(partial.name):
                alive = True
                continue
            set_aside(volume, partial, work.name)
            moved += 1
        if final.exists():
            set_aside(volume, final, work.name)
            moved += 1
    if not alive:
        (work / SWEPT).touch()
    return moved


def planned_tars(work: Path, volumes: list[Path]) -> Iterator[tuple[Path, Path]]:
    """Every TAR path the run of this work folder may have written, on every volume."""
    run_id = work.name
    day = run_day(run_id)
    for batch in sorted(work.glob(BATCH_GLOB)):
        table = pq.read_table(batch, columns=["study_instance_uid", "series_instance_uid"])
        pairs = set(zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True))
        for study, series in sorted(pairs):
            relpath = tar_relpath(day, study, series, run_id)
            for volume in volumes:
                yield Path(volume), volume_path(Path(volume), relpath)


def run_day(run_id: str) -> date:
    """The UTC day a run started on, from its id `<spoke>-<yyyymmddThhmmss>-<hex>`."""
    return datetime.strptime(run_id.rsplit("-", 2)[1], "%Y%m%dT%H%M%S").date()


def writer_alive(partial_name: str) -> bool:
    """Is the process that stages this partial TAR (`….partial-<pid>-<hex>`) still running?"""
    pid = int(partial_name.rsplit(".partial-", 1)[1].split("-")[0])
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process holds that pid
        return True
    return True


def set_aside(volume: Path, path: Path, run: str) -> Path:
    """Move a file the catalog does not know to `<volume>/orphans/<run>/<its relpath>`: a rename
    within the volume, so nothing archived is ever lost; returns the new path."""
    target = Path(volume) / SET_ASIDE / run / path.relative_to(volume)
    make_dirs_durable(Path(volume), target.parent)
    while target.exists():  # never replace: a second copy set aside gets a suffix
        target = target.with_name(target.name + ".again")
    os.rename(path, target)
    fsync_dir(path.parent)
    fsync_dir(target.parent)
    return target
