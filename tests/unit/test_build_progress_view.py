"""`spokesync manifest build` shows the phase under way with its count, rate and time left on a
terminal (issue 18), and adds nothing when its output is piped or logged."""

from __future__ import annotations

import io
import time

from rich.console import Console

from spokesync.flows.console import build_with_progress
from spokesync.flows.console_progress import phased
from spokesync.tasks.manifest import build


def test_the_phase_line_shows_its_count_unit_and_rate_on_a_terminal():
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)
    with phased(console, {build.READING: "files", build.COPYING: "objects"}) as update:
        update(build.READING, 0, 3)
        update(build.READING, 3, 3)
        update(build.COPYING, 0, 2)
        for _ in range(2):
            time.sleep(0.05)  # rich measures a rate between two advances
            update(build.COPYING, 1, 2)
    shown = screen.getvalue()
    assert build.COPYING in shown and "2/2 objects" in shown and "objects/s" in shown


def test_a_build_piped_to_a_file_prints_no_progress(tmp_path, sample_sources):
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=False)
    result = build_with_progress(console, sample_sources["south"], "south", tmp_path / "drop")
    assert result.rows_written == 148 and screen.getvalue() == ""
