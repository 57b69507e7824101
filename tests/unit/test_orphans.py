"""Tracing a dead run's TARs from its work folder, and telling a dead writer from a live one."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date

from tasks.orphans import run_day, writer_alive


def test_a_run_id_tells_the_day_its_tars_were_filed_under():
    assert run_day("north-20261128T060952-751a44") == date(2026, 11, 28)
    assert run_day("south-east-20261231T235959-00ff00") == date(2026, 12, 31)


def test_a_partial_tar_of_a_finished_process_has_no_live_writer():
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert not writer_alive(f"run.tar.partial-{gone.stdout.strip()}-0a1b2c3d")
    assert writer_alive(f"run.tar.partial-{os.getpid()}-0a1b2c3d")
