"""A user's simple mistakes stop `spokesync` at once (issue 18): one or two lines saying what,
where and the fix, exit 2, no traceback, within 5 s, and no Prefect server or flow run started
(the subprocess gets its own PREFECT_HOME, which must stay empty). On a loaded machine the
interpreter's own start-up can take longer than 5 s: the limit is then `spokesync --version`'s
time measured beside it, plus 3 s (a Prefect server start alone would take 15 s)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from functools import cache
from pathlib import Path

import pytest

from spokesync.catalog.lock import writer_lock
from spokesync.tasks.config import add_spoke, init_config

SPOKESYNC = shutil.which("spokesync", path=str(Path(sys.executable).parent))


def spokesync(tmp_path: Path, *args: str, config: Path | None = None):
    """Run the real console script; returns (result, seconds, prefect home)."""
    home = tmp_path / "prefect-home"
    home.mkdir(exist_ok=True)
    env = os.environ | {"COLUMNS": "80", "PREFECT_HOME": str(home)}
    env.pop("SPOKESYNC_CONFIG", None)
    env.pop("PREFECT_API_URL", None)
    flags = ("--config", str(config)) if config else ()
    started = time.monotonic()
    result = subprocess.run(
        [SPOKESYNC, *args, *flags], capture_output=True, text=True, env=env, cwd=tmp_path,
        timeout=60, check=False,
    )  # fmt: skip
    return result, time.monotonic() - started, home


@cache
def start_up_seconds() -> float:
    """How long the console script takes to print its version here, now."""
    started = time.monotonic()
    subprocess.run([SPOKESYNC, "--version"], capture_output=True, timeout=60, check=True)
    return time.monotonic() - started


def assert_short_refusal(result, seconds: float, home: Path, *expected: str) -> str:
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 2, output
    limit = 5 if seconds < 5 else start_up_seconds() + 3
    assert seconds < limit, f"took {seconds:.1f} s (limit {limit:.1f} s): {output}"
    assert "Traceback" not in output, output
    assert len(output.splitlines()) <= 3, output
    assert output.startswith("error: "), output
    for phrase in expected:
        assert phrase in output, output
    assert not any(home.iterdir()), f"Prefect started: {sorted(home.rglob('*'))}"
    return output


@pytest.fixture
def hub_file(tmp_path, sample_drops) -> Path:
    file = init_config(tmp_path / "hub")
    add_spoke(file, "north", sample_drops["north"])
    return file


def test_a_misspelt_spoke_is_refused_with_the_closest_name(tmp_path, hub_file):
    result, seconds, home = spokesync(tmp_path, "reconcile", "nroth", config=hub_file)
    assert_short_refusal(result, seconds, home, "unknown spoke 'nroth'; did you mean 'north'?")


def test_a_missing_drop_folder_is_refused_before_any_flow_starts(tmp_path, hub_file):
    missing = tmp_path / "no-such-drop"
    result, seconds, home = spokesync(
        tmp_path, "reconcile", "north", "--drop", str(missing), config=hub_file
    )
    assert_short_refusal(result, seconds, home, str(missing), "drop folder does not exist")


def test_no_configuration_is_refused_with_how_to_make_one(tmp_path):
    result, seconds, home = spokesync(tmp_path, "nightly")
    assert_short_refusal(result, seconds, home, "no configuration at", "spokesync init")


def test_a_locked_catalog_stops_a_writer_at_once_naming_the_holder(tmp_path, hub_file):
    catalog = hub_file.parent / "catalog.duckdb"
    with writer_lock(catalog):
        result, seconds, home = spokesync(tmp_path, "reconcile", "north", config=hub_file)
    assert_short_refusal(result, seconds, home, f"locked by process {os.getpid()}", "--wait")


@pytest.mark.parametrize(
    "command", [("changes", "list"), ("report", "changes"), ("review", "show", "1")]
)
def test_a_format_the_command_does_not_know_is_refused_naming_the_choices(
    tmp_path, hub_file, command
):
    result, seconds, home = spokesync(tmp_path, *command, "--format", "xml", config=hub_file)
    output = assert_short_refusal(result, seconds, home, "'xml' is not one of", "'csv'")
    assert f"spokesync {' '.join(command[:2])} --help" in output


def test_debug_shows_the_traceback_the_one_line_error_leaves_out(tmp_path, hub_file):
    result, _, _ = spokesync(tmp_path, "--debug", "reconcile", "nroth", config=hub_file)
    assert result.returncode == 2
    assert "Traceback" in result.stdout + result.stderr
    assert "did you mean 'north'?" in result.stdout + result.stderr


def test_version_prints_the_package_version(tmp_path):
    from importlib.metadata import version

    result, _, _ = spokesync(tmp_path, "--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"spokesync {version('spokesync')}"
