"""Helpers for the nearline-safety tests: the CLI in a subprocess, configuration edits,
retrieval snapshots and a small tmpfs mounted for the test."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest

from spokesync.catalog import open_catalog
from spokesync.tasks.config import read_document, write_document
from spokesync.tasks.retrieve.study import retrieve_study

ROOT = Path(__file__).resolve().parents[2]
SPOKESYNC = shutil.which("spokesync", path=str(Path(sys.executable).parent))


def cli(*args: str | Path) -> subprocess.CompletedProcess:
    """`spokesync ARGS` as a user runs it, in its own process."""
    env = os.environ | {"PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    return subprocess.run(
        [SPOKESYNC, *map(str, args)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def edit_config(file: Path, section: str, key: str, value) -> None:
    """Set `[section] key = value` in a spokesync.toml, as an operator's editor would."""
    document = read_document(file)
    document[section][key] = value
    write_document(file, document)


def studies(config) -> list[str]:
    with open_catalog(config.catalog) as con:
        rows = con.execute("select study_instance_uid from studies where status = 'active'")
        return sorted(r[0] for r in rows.fetchall())


def changed_studies(config) -> set[str]:
    """Studies that a cc record other than NEW_OBJECTS touched, as source or target."""
    sql = """select unnest(list_concat(source_study_uids, target_study_uids)) from cc_records
             where kind <> 'NEW_OBJECTS'"""
    with open_catalog(config.catalog) as con:
        return {r[0] for r in con.execute(sql).fetchall()}


def retrieved(config, uids: list[str], out: Path) -> dict[str, dict[str, str]]:
    """Per study: each file retrieval wrote, with its SHA-256."""
    found = {}
    for uid in uids:
        result = retrieve_study(config, uid, out=out / uid)
        assert result.failed == []
        found[uid] = {
            f.relative_to(out / uid).as_posix(): digest(f)
            for f in sorted((out / uid).rglob("*"))
            if f.is_file()
        }
    return found


def digest(path: Path) -> str:
    """SHA-256 of a retrieved file, with the moment of retrieval that Original Attributes
    Sequence records (0400,0562) blanked: two retrievals of one object differ only there."""
    ds = pydicom.dcmread(path)
    if "OriginalAttributesSequence" not in ds:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    for item in ds.OriginalAttributesSequence:
        item.AttributeModificationDateTime = ""
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return hashlib.sha256(buffer.getvalue()).hexdigest()


class Tmpfs:
    """Mount small tmpfs file systems for a test and unmount them afterwards."""

    def __init__(self) -> None:
        self.mounted: list[Path] = []

    def mount(self, path: Path, size: str = "2m") -> Path:
        path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                              capture_output=True, text=True)  # fmt: skip
        if done.returncode:
            pytest.skip(f"mounting a tmpfs is not permitted here: {done.stderr.strip()}")
        self.mounted.append(path)
        return path

    def read_only(self, path: Path) -> None:
        subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)

    def unmount_all(self) -> None:
        for path in reversed(self.mounted):
            subprocess.run(["umount", str(path)], check=False)
