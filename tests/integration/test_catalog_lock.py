"""One catalog writer at a time: a second one gets CatalogLocked naming the holder, or waits."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from spokesync.catalog import open_catalog
from spokesync.catalog.errors import CatalogLocked
from spokesync.catalog.lock import lock_path

HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from spokesync.catalog import open_catalog
    with open_catalog(Path(sys.argv[1])):
        print("holding", flush=True)
        time.sleep(float(sys.argv[2]))
""")


def hold(path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "holding"
    return proc


def test_second_writer_gets_catalog_locked_with_the_holders_pid(tmp_path):
    path = tmp_path / "catalog.duckdb"
    proc = hold(path, 30)
    try:
        with pytest.raises(CatalogLocked) as info, open_catalog(path):
            pass
        assert info.value.holder_pid == proc.pid
        assert str(proc.pid) in str(info.value) and "--wait" in str(info.value)
    finally:
        proc.kill()
        proc.wait()


def test_waiting_writer_gets_in_when_the_holder_finishes(tmp_path):
    path = tmp_path / "catalog.duckdb"
    proc = hold(path, 1.5)
    started = time.monotonic()
    with open_catalog(path, wait=True) as con:
        waited = time.monotonic() - started
        assert con.execute("select count(*) from runs").fetchone()[0] == 0
    proc.wait()
    assert waited > 0.5


def test_lock_of_a_killed_holder_is_released(tmp_path):
    path = tmp_path / "catalog.duckdb"
    proc = hold(path, 60)
    proc.kill()
    proc.wait()
    with open_catalog(path) as con:
        assert con.execute("select 1").fetchone()[0] == 1
    assert lock_path(path).exists()
