"""Two `spokesync` processes at once: a second writer fails naming the holder or queues behind it,
and reports stay readable while a run holds the catalog.

The test process holds the writer lock itself (as a reconcile mid-run does), and sees a queued
process through the lock file it holds open in /proc, so the overlap never rests on a sleep.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
from prefect.settings import PREFECT_API_URL

from spokesync.catalog import open_catalog
from spokesync.catalog.changes import list_changes
from spokesync.catalog.lock import lock_path
from spokesync.catalog.nearline import spoke_summary
from spokesync.flows.reconcile import reconcile_spoke

SPOKESYNC = shutil.which("spokesync", path=str(Path(sys.executable).parent))


def start(*args: str) -> subprocess.Popen:
    """`spokesync ARGS` in its own process, reporting to the test session's Prefect server."""
    env = os.environ | {"PREFECT_API_URL": PREFECT_API_URL.value(), "COLUMNS": "200"}
    return subprocess.Popen(
        [SPOKESYNC, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )


def finished(proc: subprocess.Popen) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=300)
    return proc.returncode, out


def queued_on(proc: subprocess.Popen, lock: Path, timeout: float = 180) -> None:
    """Return once `proc` holds the lock file open, waiting for it; fail if it exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, finished(proc)
        if str(lock.resolve()) in open_files(proc.pid):
            return
        time.sleep(0.1)
    raise AssertionError(f"process {proc.pid} never reached the catalog lock")


def open_files(pid: int) -> set[str]:
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            found.add(os.readlink(fd))
        except FileNotFoundError:  # closed while listing
            continue
    return found


def test_reconcile_without_wait_fails_naming_the_holder_and_applies_nothing(hub):
    with open_catalog(hub.catalog):
        code, out = finished(start("reconcile", "north", "--config", str(hub.file)))

    assert code == 2
    assert f"locked by process {os.getpid()}" in out and "--wait" in out
    with open_catalog(hub.catalog) as con:
        assert spoke_summary(con) == [] and list_changes(con) == []
    assert [p for v in hub.volumes if v.exists() for p in v.rglob("*.tar*")] == []


def test_two_waiting_reconciles_of_one_spoke_queue_and_the_second_finds_nothing_new(hub):
    lock = lock_path(hub.catalog)
    with open_catalog(hub.catalog):
        runs = [start("reconcile", "north", "--wait", "--config", str(hub.file)) for _ in "ab"]
        for proc in runs:
            queued_on(proc, lock)
    outcomes = [finished(proc) for proc in runs]

    assert [code for code, _ in outcomes] == [0, 0], outcomes
    with open_catalog(hub.catalog) as con:
        runs_with_records = {r["run_id"] for r in list_changes(con)}
        held = {r["spoke"]: r["instances"] for r in spoke_summary(con)}
        committed = con.execute("select count(*) from runs where spoke_id = 'north'").fetchone()
    assert committed == (2,) and len(runs_with_records) == 1
    manifest = pq.ParquetFile(hub.spoke("north").drop / "manifest.parquet")
    assert held == {"north": manifest.metadata.num_rows}
    assert [p for v in hub.volumes for p in v.rglob("*.partial-*")] == []


def test_reports_answer_with_the_previous_run_while_a_run_holds_the_catalog(hub):
    first = reconcile_spoke("north", config_file=str(hub.file))
    lock = lock_path(hub.catalog)
    with open_catalog(hub.catalog):
        waiting = start("reconcile", "south", "--wait", "--config", str(hub.file))
        queued_on(waiting, lock)
        code, out = finished(start("report", "runs", "--format", "json", "--config", str(hub.file)))
        during = reported_runs(hub)
    assert finished(waiting)[0] == 0

    assert code == 0
    assert [r["run_id"] for r in json.loads(out)] == [first["run_id"]]
    assert during == [(first["run_id"], "north")]
    assert [spoke for _, spoke in reported_runs(hub)] == ["north", "south"]


def reported_runs(config) -> list[tuple]:
    """The runs an analyst sees in reports.duckdb."""
    con = duckdb.connect(str(config.reports / "reports.duckdb"), read_only=True)
    try:
        return con.execute("select run_id, spoke_id from runs order by started_at").fetchall()
    finally:
        con.close()
