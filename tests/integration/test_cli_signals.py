"""Ctrl-C and SIGTERM to a real `spokesync` process (issue 16): it stops within seconds with one
line saying what state the hub is in, no traceback, exit 130 or 143, and no child process (the
temporary Prefect server it started) left running; the next start handles its partial TARs.

Each process is paused at a named step (SPOKESYNC_PAUSE_AT) and signalled once it says so.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

from spokesync.catalog import open_catalog
from spokesync.catalog.changes import list_changes
from spokesync.catalog.faults import PAUSE_ENV, READY_ENV
from spokesync.catalog.nearline import spoke_summary
from spokesync.flows.cli.signals import alive, descendants
from spokesync.tasks.nearline.listing import list_partials

SPOKESYNC = shutil.which("spokesync", path=str(Path(sys.executable).parent))
STOP_WITHIN_SECONDS = 10
AFTERWARDS = "partial files are moved aside at the next start"


def start_paused(tmp_path: Path, point: str, *args: str) -> tuple[subprocess.Popen, list[int]]:
    """`spokesync ARGS` paused at `point`; returns it with its descendants at that moment."""
    ready = tmp_path / f"paused-{point}"
    env = os.environ | {PAUSE_ENV: point, READY_ENV: str(ready), "COLUMNS": "200"}
    env.pop("PREFECT_API_URL", None)  # the process starts its own temporary server
    proc = subprocess.Popen(
        [SPOKESYNC, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,  # its own process group, as a command typed in a terminal
    )
    deadline = time.monotonic() + 300
    while not ready.exists():
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, f"never reached {point}"
        time.sleep(0.2)
    return proc, descendants(proc.pid)


def stopped(
    proc: subprocess.Popen, signum: signal.Signals, *, group: bool = False
) -> tuple[int, str, float]:
    """Signal the process (or, as Ctrl-C in a terminal does, its whole process group)."""
    began = time.monotonic()
    if group:
        os.killpg(proc.pid, signum)
    else:
        proc.send_signal(signum)
    out, _ = proc.communicate(timeout=60)
    return proc.returncode, out, time.monotonic() - began


def assert_one_clean_line(out: str, expected: str) -> None:
    assert "Traceback" not in out and "Error" not in out, out
    last = out.strip().splitlines()[-1]
    assert last.startswith("spokesync: interrupted (SIG") and expected in last, out
    assert out.count("spokesync: interrupted") == 1, out


def test_ctrl_c_while_archiving_stops_before_commit_and_the_next_start_handles_the_partial_tar(
    hub, tmp_path
):
    args = ("reconcile", "north", "--config", str(hub.file))
    proc, children = start_paused(tmp_path, "object-staged", *args)
    assert children, "the temporary Prefect server should be running"

    code, out, seconds = stopped(proc, signal.SIGINT, group=True)

    assert code == 130, out
    assert seconds < STOP_WITHIN_SECONDS, seconds
    assert_one_clean_line(out, f"stopped before commit: catalog unchanged; {AFTERWARDS}")
    assert [pid for pid in children if alive(pid)] == []
    with open_catalog(hub.catalog) as con:
        assert spoke_summary(con) == [] and list_changes(con) == []
    partials = list(list_partials(hub.volumes[0]))
    assert partials and all(f".partial-{proc.pid}-" in p for p in partials)

    again = subprocess.run([SPOKESYNC, *args], capture_output=True, text=True, timeout=600)

    assert again.returncode == 0, again.stdout + again.stderr
    assert list(list_partials(hub.volumes[0])) == []
    rows = pq.ParquetFile(hub.spoke("north").drop / "manifest.parquet").metadata.num_rows
    with open_catalog(hub.catalog) as con:
        assert {r["spoke"]: r["instances"] for r in spoke_summary(con)} == {"north": rows}


def test_sigterm_to_nightly_after_a_commit_names_the_committed_run_and_leaves_it_whole(
    hub, tmp_path
):
    proc, children = start_paused(tmp_path, "committed", "nightly", "--config", str(hub.file))

    code, out, seconds = stopped(proc, signal.SIGTERM)

    assert code == 143, out
    assert seconds < STOP_WITHIN_SECONDS, seconds
    with open_catalog(hub.catalog) as con:
        runs = con.execute("select run_id, spoke_id from runs").fetchall()
    assert len(runs) == 1, runs
    run_id, spoke = runs[0]
    assert_one_clean_line(
        out, f"stopped after commit of run {run_id}; nothing later was committed; {AFTERWARDS}"
    )
    assert [pid for pid in children if alive(pid)] == []
    rows = pq.ParquetFile(hub.spoke(spoke).drop / "manifest.parquet").metadata.num_rows
    with open_catalog(hub.catalog) as con:
        assert {r["spoke"]: r["instances"] for r in spoke_summary(con)} == {spoke: rows}
