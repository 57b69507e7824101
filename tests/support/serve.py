"""Helpers for `spokesync serve` tests: a hub after a UID fix and a correction, and the server
started as a subprocess that listens on a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import simulator as sim
from spokesync.catalog import open_catalog
from spokesync.catalog.review import approve, open_reviews
from spokesync.tasks.config import read_document, write_document
from tests.support.retrieve import reconcile


def fixed_hub(archived, source: Path, work: Path):
    """North after a UID fix (approved) and a patient-name correction: (config, drop, old
    study UID, the UID it has now)."""
    table = sim.manifest_of(source)
    old = sim.study_uids(table)[3]
    other = next(p for p in sim.patient_ids(table) if old not in sim.studies_of_patient(table, p))
    ops = [
        sim.Correct("study", old, "study_description", "CORRECTED", "orthanc"),
        sim.Correct("patient", other, "patient_name", "FAKE^CORRECTED", "impax"),
    ]
    config, drop, truth = reconcile(archived, work, source, ops)
    with open_catalog(config.catalog) as con:  # the re-identified study waits for review
        for record in open_reviews(con):
            approve(con, record["seq"], by="tester")
    [new] = next(r.target_study_uids for r in truth.records if r.source_study_uids == (old,))
    return config, drop, old, new


def spokesync_command() -> Path:
    """The `spokesync` script installed beside the interpreter running the tests."""
    return Path(sys.executable).parent / "spokesync"


def serve_command(config, section: dict) -> list[str]:
    """Write `section` as the configuration's [serve] and return the command that serves it."""
    document = read_document(config.file)
    document["serve"] = section
    write_document(config.file, document)
    return [str(spokesync_command()), "serve", "--config", str(config.file)]


def start(command: list, log: Path, port: int, timeout: float = 30, env=None) -> subprocess.Popen:
    """Start a server, its output to `log`, and wait until it listens on `port`."""
    with open(log, "wb") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=os.environ | {"TCP_NODELAY": "1"} | (env or {}),
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{command[0]} exited: {log.read_text()[-2000:]}"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"{command[0]} did not listen on {port} within {timeout} s")
