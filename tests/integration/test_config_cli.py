"""A wrong spokesync.toml stops `spokesync` at once, in one line naming the file, the key and
the fix, and changes nothing (issue 16): a typo must never leave a default silently in force."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from spokesync.tasks.config import add_spoke, init_config

SPOKESYNC = shutil.which("spokesync", path=str(Path(sys.executable).parent))
TYPOS = {
    "misspelt_policy": (
        ("max_delete_fraction = 0.05", "max_delete_fractoin = 0.05"),
        "unknown key 'policies.max_delete_fractoin'; did you mean 'max_delete_fraction'?",
    ),
    "misspelt_section": (
        ("[policies]", "[polices]"),
        "unknown section 'polices'; did you mean 'policies'?",
    ),
    "volumes_as_a_string": (
        ('volumes = [\n    "nearline/vol01",\n]', 'volumes = "nearline/vol02"'),
        "wrong value for 'nearline.volumes': given a string 'nearline/vol02', expected",
    ),
    "quoted_number": (
        ("max_delete_fraction = 0.05", 'max_delete_fraction = "0.05"'),
        "wrong value for 'policies.max_delete_fraction': given a string '0.05', expected",
    ),
    "spoke_id_escaping_work": (
        ("[spokes.north]", '[spokes."../x"]'),
        "spoke id '../x' is not allowed",
    ),
    "misspelt_spoke_key": (
        ("drop = ", "drop_folder = "),
        "unknown key 'spokes.north.drop_folder'",
    ),
}


def spokesync(*args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"COLUMNS": "80"}  # a narrow terminal must still get one line
    return subprocess.run(
        [SPOKESYNC, *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def hub_files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def hub_file(tmp_path, sample_drops) -> Path:
    file = init_config(tmp_path / "hub")
    add_spoke(file, "north", sample_drops["north"])
    return file


def assert_refused_in_one_line(result, file: Path, expected: str) -> None:
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 2, output
    assert output.count("\n") == 0, output
    assert "Traceback" not in output
    assert output.startswith(f"error: {file}: ") and expected in output, output


@pytest.mark.parametrize("case", sorted(TYPOS))
def test_a_typo_in_the_configuration_stops_nightly_in_one_line_and_changes_nothing(hub_file, case):
    (old, new), expected = TYPOS[case]
    text = hub_file.read_text()
    assert old in text
    hub_file.write_text(text.replace(old, new, 1))
    before = hub_files(hub_file.parent)

    result = spokesync("nightly", "--config", str(hub_file))

    assert_refused_in_one_line(result, hub_file, expected)
    assert hub_files(hub_file.parent) == before


def test_a_typo_in_the_configuration_stops_reconcile_before_prefect_starts(hub_file):
    hub_file.write_text(hub_file.read_text().replace("[policies]", "[polices]"))
    before = hub_files(hub_file.parent)

    result = spokesync("reconcile", "north", "--config", str(hub_file))

    assert_refused_in_one_line(result, hub_file, "did you mean 'policies'?")
    assert "temporary server" not in result.stdout + result.stderr
    assert hub_files(hub_file.parent) == before


@pytest.mark.parametrize("spoke_id", ["../x", "north pole", "n;rm", "North"])
def test_spoke_add_refuses_an_id_that_is_not_a_safe_name(hub_file, tmp_path, spoke_id):
    before = hub_file.read_bytes()

    result = spokesync("spoke", "add", spoke_id, "--drop", str(tmp_path), "--config", str(hub_file))

    assert_refused_in_one_line(result, hub_file, f"spoke id {spoke_id!r} is not allowed")
    assert hub_file.read_bytes() == before
