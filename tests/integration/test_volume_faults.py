"""A full or read-only volume, and a damaged catalog file: clear errors, nothing half-written
published, and the next configured volume with room takes the TARs. The volumes are small
tmpfs file systems mounted by the test (skipped only where mounting is not permitted)."""

from __future__ import annotations

import pytest

from spokesync.catalog import open_catalog
from spokesync.catalog.errors import NearlineUnwritable
from spokesync.tasks.config import load_config
from spokesync.tasks.nearline.listing import list_partials, list_tars
from spokesync.tasks.nearline.tars import stage_series_tar
from spokesync.tasks.nearline.verify import verify_nearline
from spokesync.tasks.nearline.volumes import stage_on_a_volume
from spokesync.tasks.reconcile.run import run_spoke
from tests.support.detection import copy_hub, export, nearline_files
from tests.support.nearline_safety import Tmpfs, cli, edit_config


@pytest.fixture
def tmpfs():
    mounts = Tmpfs()
    yield mounts
    mounts.unmount_all()


def two_volume_hub(hub_folder, tmpfs, size="2m"):
    """A fresh hub whose first volume is a small tmpfs and whose second is a plain folder;
    `spokesync init` writes both markers."""
    assert cli("init", "--data-dir", hub_folder).returncode == 0
    fast = tmpfs.mount(hub_folder / "nearline" / "fast", size)
    volumes = [{"name": "fast", "path": str(fast)}, {"name": "vol02", "path": "nearline/vol02"}]
    edit_config(hub_folder / "spokesync.toml", "nearline", "volumes", volumes)
    initialised = cli("init", "--data-dir", hub_folder)
    assert initialised.returncode == 0, initialised.stdout
    return load_config(hub_folder / "spokesync.toml")


def test_a_read_only_volume_is_passed_over_for_the_next_one(sample_drops, tmpfs, tmp_path):
    from spokesync.tasks.config import add_spoke

    config = two_volume_hub(tmp_path / "hub", tmpfs)
    add_spoke(config.file, "north", sample_drops["north"])
    config = load_config(config.file)
    tmpfs.read_only(config.volumes[0])
    result = run_spoke(config, "north")
    assert result["tars_written"] > 0
    assert list(list_tars(config.volumes[0])) == []
    assert len(list(list_tars(config.volumes[1]))) == result["tars_written"]
    with open_catalog(config.catalog) as con:
        assert con.execute("select distinct volume from stored_objects").fetchall() == [("vol02",)]
    assert verify_nearline(config)[0] == []


def test_a_read_only_last_volume_stops_the_run_naming_volume_path_and_fix(
    sample_drops, tmpfs, tmp_path
):
    from spokesync.tasks.config import add_spoke

    config = two_volume_hub(tmp_path / "hub", tmpfs)
    add_spoke(config.file, "north", sample_drops["north"])
    edit_config(
        config.file, "nearline", "volumes", [{"name": "fast", "path": str(config.volumes[0])}]
    )
    config = load_config(config.file)
    tmpfs.read_only(config.volumes[0])
    before = export(config), nearline_files(config)
    with pytest.raises(NearlineUnwritable, match=rf"fast \({config.volumes[0]}\) is mounted "
                       r"read-only.*remount read-write, or add a volume"):  # fmt: skip
        run_spoke(config, "north")
    assert (export(config), nearline_files(config)) == before


def test_a_volume_that_fills_up_while_writing_leaves_no_partial_and_the_next_one_takes_the_tar(
    tmpfs, tmp_path
):
    full = tmpfs.mount(tmp_path / "full", "256k")
    roomy = tmp_path / "roomy"
    roomy.mkdir()
    from spokesync.tasks.nearline.volumes import Marker, write_marker

    for name, path in (("full", full), ("roomy", roomy)):
        write_marker(path, Marker("hub-test", name))
    big = bytes(400_000)

    def write(hub, name, volume):
        return stage_series_tar(volume, "2026/12/03/1.2/1.2.3/run.tar", [("1.2.3.4.dcm", big)])

    # the estimate says it fits (a spoke's sizes can be wrong): the write itself hits ENOSPC
    name, staged = stage_on_a_volume([full, roomy], 1000, write)
    assert (name, staged.volume) == ("roomy", roomy)
    assert list(list_partials(full)) == [] and list(list_tars(full)) == []
    with pytest.raises(NearlineUnwritable, match=rf"volume {full}: cannot write .*run.tar: the "
                       "volume is full; free space or add a volume"):  # fmt: skip
        stage_on_a_volume([full], 1000, write)


def test_a_truncated_catalog_file_gives_a_clear_error_naming_the_file_and_the_way_back(
    archived, sample_drops, tmp_path
):
    config = copy_hub(archived, tmp_path / "hub", "north", sample_drops["north"])
    data = config.catalog.read_bytes()
    config.catalog.write_bytes(data[: len(data) // 3])
    for command in (("verify",), ("retrieve", "1.2.3", "--out", tmp_path / "out")):
        done = cli(*command, "--config", config.file)
        output = done.stdout + done.stderr
        assert done.returncode == 2 and "Traceback" not in output, output
        assert f"the catalog {config.catalog} is damaged" in " ".join(output.split())
        assert "catalog rebuild" in output
