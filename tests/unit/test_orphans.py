"""Tracing a dead run's TARs from its work folder, and telling a dead writer from a live one."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq

from spokesync.tasks.nearline.listing import list_partials, list_set_aside, list_tars
from spokesync.tasks.nearline.orphans import SWEPT, run_day, sweep_orphans, writer_alive
from spokesync.tasks.nearline.tars import SET_ASIDE, tar_relpath, volume_path


def test_a_run_id_tells_the_day_its_tars_were_filed_under():
    assert run_day("north-20261128T060952-751a44") == date(2026, 11, 28)
    assert run_day("south-east-20261231T235959-00ff00") == date(2026, 12, 31)


def test_a_partial_tar_of_a_finished_process_has_no_live_writer():
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert not writer_alive(f"run.tar.partial-{gone.stdout.strip()}-0a1b2c3d")
    assert writer_alive(f"run.tar.partial-{os.getpid()}-0a1b2c3d")


def _dead_run(root, run_id: str, volume, study: str = "1.2.3", series: str = "1.2.3.4"):
    """A work folder with one batch, as plan_run writes it, and that run's TAR path."""
    work = root / "work" / run_id
    work.mkdir(parents=True)
    pq.write_table(
        pa.table({"study_instance_uid": [study], "series_instance_uid": [series]}),
        work / "new-00001.parquet",
    )
    final = volume_path(volume, tar_relpath(run_day(run_id), study, series, run_id))
    final.parent.mkdir(parents=True)
    return work, final


def test_the_next_run_moves_aside_what_a_run_that_never_committed_published(tmp_path):
    volume, run = tmp_path / "vol", "north-20261128T060952-751a44"
    work, final = _dead_run(tmp_path, run, volume)
    final.write_bytes(b"tar")
    dead = final.with_name(final.name + ".partial-999999999-0a1b2c3d")
    dead.write_bytes(b"half")
    assert sweep_orphans(tmp_path / "work", [volume], set(), "north-x") == 2
    assert not final.exists() and not dead.exists() and (work / SWEPT).exists()
    aside = volume / SET_ASIDE / run
    assert (aside / final.relative_to(volume)).read_bytes() == b"tar"
    assert (aside / dead.relative_to(volume)).read_bytes() == b"half"
    assert sorted(list_set_aside(volume)) == sorted(
        f"{SET_ASIDE}/{run}/{p.relative_to(volume).as_posix()}" for p in (final, dead)
    )
    assert list(list_tars(volume)) == [] and list(list_partials(volume)) == []


def test_a_committed_run_and_a_live_writer_keep_their_tars(tmp_path):
    volume = tmp_path / "vol"
    _, kept = _dead_run(tmp_path, "north-20261128T060952-751a44", volume)
    kept.write_bytes(b"tar")
    work, final = _dead_run(tmp_path, "south-20261128T061000-0000aa", volume, series="1.2.3.5")
    live = final.with_name(f"{final.name}.partial-{os.getpid()}-0a1b2c3d")
    live.write_bytes(b"half")
    recorded = {"north-20261128T060952-751a44"}
    assert sweep_orphans(tmp_path / "work", [volume], recorded, "north-x") == 0
    assert kept.exists() and live.exists() and not (work / SWEPT).exists()
