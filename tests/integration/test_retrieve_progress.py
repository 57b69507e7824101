"""Retrieval reports its progress object by object (issue 18), and the command line turns that
into a bar with the count, the rate and the time left on a terminal."""

from __future__ import annotations

import io
import shutil

from rich.console import Console

from spokesync.catalog import read_catalog
from spokesync.catalog.changes import list_changes
from spokesync.flows.console_progress import counting
from spokesync.tasks.config import load_config
from spokesync.tasks.retrieve.study import retrieve_study


def test_retrieval_reports_every_object_it_hands_on(tmp_path, archived):
    shutil.copytree(archived, tmp_path / "hub")
    config = load_config(tmp_path / "hub" / "spokesync.toml")
    with read_catalog(config.catalog) as con:
        record = list_changes(con)[0]
    seen: list[tuple[int, int]] = []
    result = retrieve_study(
        config, record["target_study_uids"][0], out=tmp_path / "out",
        progress=lambda done, total: seen.append((done, total)),
    )  # fmt: skip
    total = record["instances"]
    assert result.sent == total
    assert seen == [(done, total) for done in range(1, total + 1)]


def test_the_bar_shows_the_count_and_the_rate_on_a_terminal():
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    with counting(console, "retrieving", "objects") as update:
        for done in range(1, 4):
            update(done, 3)
    shown = screen.getvalue()
    assert "retrieving" in shown and "3/3" in shown and "objects/s" in shown


def test_the_bar_stays_silent_when_the_output_is_not_a_terminal():
    screen = io.StringIO()
    with counting(Console(file=screen, force_terminal=False), "retrieving", "objects") as update:
        update(1, 1)
    assert screen.getvalue() == ""
