"""Orphans of runs that never committed: their TARs are removed by the next run (DESIGN §4.3).

A run names its TARs `<yyyy/mm/dd>/<study>/<series>/<run id>.tar` and stages them beside that
name as `<run id>.tar.partial-<pid>-<hex>`; its work folder keeps the batches it meant to
archive. So a run killed before its commit can be traced from its work folder alone, without
walking the volumes. The next run does that under the catalog's writer lock, before publishing
its own TARs: a published TAR of a run the catalog does not know was renamed under the lock of a
process that is gone (publishing and the commit share one lock hold), so no catalog row points at
it and none ever will. A partial TAR is removed once the process named in its name is gone
(on this host: a writer in another PID namespace looks gone, and then its publish fails and
its run stops without changing the catalog).
Until then `verify` reports them as orphan and partial TARs. Removing them, rather than reusing
them, keeps one rule for every kill point: the re-run archives its objects exactly once, in its
own TARs, and nothing of the killed run stays behind.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pyarrow.parquet as pq

from tasks.nearline import fsync_dir, tar_relpath, volume_path
from tasks.run_state import BATCH_GLOB

log = logging.getLogger("spokesync.orphans")
SWEPT = "orphans-removed"  # marker in a dead run's work folder: its nearline files are gone


def sweep_orphans(work_root: Path, volumes: list[Path], recorded: set[str], current: str) -> int:
    """Remove the TARs of every run in `work_root` that the catalog never recorded; return how
    many files went. Call it holding the catalog's writer lock."""
    removed = 0
    if not Path(work_root).is_dir():
        return 0
    for work in sorted(Path(work_root).iterdir()):
        if work.name in recorded or work.name == current or (work / SWEPT).exists():
            continue
        if work.is_dir() and any(work.glob(BATCH_GLOB)):
            removed += sweep_run(work, volumes)
    if removed:
        log.warning("removed %d nearline file(s) of runs that never committed", removed)
    return removed


def sweep_run(work: Path, volumes: list[Path]) -> int:
    """Remove one dead run's published and partial TARs; mark it done unless a writer lives."""
    removed, alive = 0, False
    for final in planned_tars(work, volumes):
        for partial in sorted(final.parent.glob(f"{final.name}.partial-*")):
            if writer_alive(partial.name):
                alive = True
                continue
            removed += _remove(partial)
        if final.exists():
            removed += _remove(final)
    if not alive:
        (work / SWEPT).touch()
    return removed


def planned_tars(work: Path, volumes: list[Path]) -> Iterator[Path]:
    """Every TAR path the run of this work folder may have written, on every volume."""
    run_id = work.name
    day = run_day(run_id)
    for batch in sorted(work.glob(BATCH_GLOB)):
        table = pq.read_table(batch, columns=["study_instance_uid", "series_instance_uid"])
        pairs = set(zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True))
        for study, series in sorted(pairs):
            relpath = tar_relpath(day, study, series, run_id)
            for volume in volumes:
                yield volume_path(Path(volume), relpath)


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


def _remove(path: Path) -> int:
    path.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return 1
