"""scripts/install-peers, which `make test` and CI run (issue 17), against a fake `dpkg` that
says which Debian packages are installed and a fake `apt-get` that records any call to it:
the real packages are never removed or installed by these tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "install-peers"
PEERS = ["orthanc", "orthanc-dicomweb", "dcmtk", "dicom3tools", "chromium"]


def fake_system(tmp_path: Path, installed: list[str], tools=("bash", "id", "sudo")) -> dict:
    """A PATH holding only a fake dpkg, a fake apt-get and the real `tools` there are."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "dpkg").write_text(
        '#!/bin/sh\n[ "$1" = -s ] || exit 2\n'
        f'case " {" ".join(installed)} " in *" $2 "*) exit 0 ;; esac\nexit 1\n'
    )
    fake(bin_dir / "apt-get", f'echo "$@" >> {tmp_path / "apt-calls"}')
    (bin_dir / "dpkg").chmod(0o755)
    for tool in tools:
        if found := shutil.which(tool):
            (bin_dir / tool).symlink_to(found)
    return {"PATH": str(bin_dir), "HOME": str(tmp_path)}


def fake(path: Path, body: str) -> None:
    path.unlink(missing_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def run(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([SCRIPT, *args], env=env, capture_output=True, text=True, timeout=60)


def test_nothing_is_installed_when_every_peer_is_there(tmp_path):
    result = run(fake_system(tmp_path, PEERS))

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"peers: {' '.join(PEERS)} already installed\n"
    assert not (tmp_path / "apt-calls").exists()


def test_a_dry_run_names_the_missing_peers_and_the_command_without_running_it(tmp_path):
    env = fake_system(tmp_path, ["orthanc", "orthanc-dicomweb", "dicom3tools"])

    result = run(env, "--dry-run")

    assert result.returncode == 0, result.stderr
    sudo = "" if os.geteuid() == 0 else "sudo "
    assert result.stdout == (
        "peers: missing dcmtk chromium; would run: "
        f"{sudo}apt-get update -qq && {sudo}apt-get install -y -qq --no-install-recommends "
        "dcmtk chromium\n"
    )
    assert not (tmp_path / "apt-calls").exists()


def test_without_root_or_sudo_it_prints_the_one_command_to_run_and_fails(tmp_path):
    env = fake_system(tmp_path, PEERS[:-1], tools=("bash",))
    fake(Path(env["PATH"]) / "id", "echo 1000")  # an ordinary user, and no sudo on PATH

    result = run(env)

    assert result.returncode == 1
    assert result.stderr == (
        "peers: missing chromium; no root and no sudo here. As root, run:\n"
        "    apt-get update && apt-get install -y -qq --no-install-recommends chromium\n"
    )
    assert not (tmp_path / "apt-calls").exists()


def test_an_ordinary_user_with_sudo_runs_the_script_again_through_sudo(tmp_path):
    env = fake_system(tmp_path, PEERS[:-1], tools=("bash",))
    fake(Path(env["PATH"]) / "id", "echo 1000")
    fake(Path(env["PATH"]) / "sudo", f'echo "$@" > {tmp_path / "sudo-calls"}')

    result = run(env)

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "sudo-calls").read_text() == f"{SCRIPT}\n"
    assert not (tmp_path / "apt-calls").exists()


def test_an_unknown_option_is_refused_with_the_usage(tmp_path):
    result = run(fake_system(tmp_path, PEERS), "--yes")

    assert result.returncode == 2 and "usage:" in result.stderr
