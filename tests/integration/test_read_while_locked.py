"""Read-only commands never take the writer lock and never wait on it (issue 18): while another
process holds the lock, `changes list`, `review list/show`, `retrieve` and `verify` answer; while
a writer has the DuckDB file open for a moment, they retry and answer after it closes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from spokesync.catalog import read_catalog
from spokesync.catalog.changes import list_changes
from spokesync.catalog.lock import writer_lock
from spokesync.tasks.config import load_config

SPOKESYNC = shutil.which("spokesync", path=str(Path(sys.executable).parent))


def spokesync(*args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"COLUMNS": "200", "PREFECT_HOME": os.environ.get("PREFECT_HOME", "")}
    return subprocess.run(
        [SPOKESYNC, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


@pytest.fixture
def hub(tmp_path, archived):
    """A private copy of a hub that archived spoke north once."""
    shutil.copytree(archived, tmp_path / "hub")
    return load_config(tmp_path / "hub" / "spokesync.toml")


def records(config) -> list[dict]:
    with read_catalog(config.catalog) as con:
        return list_changes(con)


def test_read_commands_answer_while_another_process_holds_the_writer_lock(hub, tmp_path):
    logged = records(hub)
    record = logged[0]
    study = record["target_study_uids"][0]
    flags = ("--config", str(hub.file))
    with writer_lock(hub.catalog):
        listed = spokesync("changes", "list", "--format", "json", *flags)
        queue = spokesync("review", "list", *flags)
        shown = spokesync("review", "show", str(record["seq"]), "--format", "json", *flags)
        out = tmp_path / "out"
        retrieved = spokesync("retrieve", study, "--out", str(out), *flags)
        verified = spokesync("verify", *flags)
    for result in (listed, queue, shown, retrieved, verified):
        assert result.returncode == 0, result.stdout + result.stderr
    assert [r["seq"] for r in json.loads(listed.stdout)] == [r["seq"] for r in logged]
    assert json.loads(shown.stdout)["target_study_uids"] == [study]
    assert len(list(out.rglob("*.dcm"))) == record["instances"]
    assert "nearline verified" in verified.stdout


def test_a_read_waits_out_a_writer_that_has_the_file_open_for_a_moment(hub):
    writer = duckdb.connect(str(hub.catalog))  # a writer mid-work: DuckDB refuses readers

    def close_soon() -> None:
        time.sleep(6)  # longer than the command takes to start
        writer.close()

    closer = threading.Thread(target=close_soon)
    closer.start()
    started = time.monotonic()
    result = spokesync("changes", "list", "--format", "csv", "--config", str(hub.file))
    closer.join()
    assert result.returncode == 0, result.stdout + result.stderr
    assert time.monotonic() - started > 6
    assert result.stdout.startswith("seq,created_at,spoke,kind,status,refers_to")
