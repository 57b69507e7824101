"""`spokesync verify --volume/--spoke/--since`: a hub with two spokes archived the normal way,
checked one spoke, one volume or one date range at a time; a TAR a filter leaves out is not
checked and never called an orphan."""

from __future__ import annotations

import datetime

import pytest
from typer.testing import CliRunner

from spokesync.catalog import open_catalog
from spokesync.flows.cli.main import app
from spokesync.tasks.nearline.verify import Scope, verify_nearline
from spokesync.tasks.reconcile.run import run_spoke


@pytest.fixture
def two_spokes(hub):
    """The hub after north and south were each reconciled once."""
    run_spoke(hub, "north")
    run_spoke(hub, "south")
    return hub


def tars_of(config, spoke: str) -> list[tuple[str, str, int]]:
    """(volume, TAR path, bytes) of every TAR the catalog says the spoke sent."""
    with open_catalog(config.catalog) as con:
        return con.execute(
            "select volume, tar_path, sum(size) from stored_objects where spoke_id = ? "
            "group by all order by all",
            [spoke],
        ).fetchall()


def verify(config, *args: str):
    return CliRunner().invoke(
        app, ["verify", "--config", str(config.file), *args], terminal_width=250
    )


def corrupt(config, volume: str, tar_path: str) -> None:
    victim = config.named_volumes()[volume] / tar_path
    victim.chmod(0o644)
    data = bytearray(victim.read_bytes())
    data[1024] ^= 0xFF
    victim.write_bytes(bytes(data))


def test_verify_spoke_north_checks_only_norths_tars(two_spokes):
    north, south = tars_of(two_spokes, "north"), tars_of(two_spokes, "south")
    assert north and south
    run = verify(two_spokes, "--spoke", "north")
    assert run.exit_code == 0, run.output
    assert f"in {len(north)} TARs match the catalog" in run.output
    everything = verify(two_spokes)
    assert f"in {len(north) + len(south)} TARs match" in everything.output


def test_a_corrupt_south_tar_is_reported_without_a_filter_but_not_under_spoke_north(two_spokes):
    volume, tar_path, _ = tars_of(two_spokes, "south")[0]
    corrupt(two_spokes, volume, tar_path)
    north = verify(two_spokes, "--spoke", "north")
    assert north.exit_code == 0, north.output
    assert "corrupt_member" not in north.output and "orphan_tar" not in north.output
    everything = verify(two_spokes)
    assert everything.exit_code == 1
    assert "corrupt_member" in everything.output and tar_path in everything.output
    south = verify(two_spokes, "--spoke", "south", "--volume", volume)
    assert south.exit_code == 1 and tar_path in south.output


def test_since_tomorrow_checks_nothing_and_since_today_checks_everything(two_spokes):
    today = datetime.date.today()
    later = verify(two_spokes, "--since", str(today + datetime.timedelta(days=1)))
    assert later.exit_code == 0, later.output
    assert "0 stored objects in 0 TARs" in later.output and "orphan_tar" not in later.output
    total = len(tars_of(two_spokes, "north")) + len(tars_of(two_spokes, "south"))
    now = verify(two_spokes, "--since", str(today))
    assert now.exit_code == 0 and f"in {total} TARs match" in now.output


def test_an_unknown_volume_or_spoke_is_one_line_naming_the_known_ones(two_spokes):
    volumes = list(two_spokes.named_volumes())
    bad = verify(two_spokes, "--volume", "no-such-volume")
    assert bad.exit_code == 2
    assert bad.output.strip().count("\n") == 0 and "Traceback" not in bad.output
    assert "unknown volume 'no-such-volume'" in bad.output and volumes[0] in bad.output
    typo = verify(two_spokes, "--spoke", "nroth")
    assert typo.exit_code == 2 and typo.output.strip().count("\n") == 0
    assert "unknown spoke 'nroth'; did you mean 'north'?" in typo.output


def test_progress_is_told_once_per_tar_with_the_bytes_checked(two_spokes):
    north = tars_of(two_spokes, "north")
    calls = []
    findings, checked = verify_nearline(
        two_spokes, scope=Scope(spoke="north"), progress=lambda *told: calls.append(told)
    )
    total = sum(size for _, _, size in north)
    assert findings == [] and checked > 0
    assert [c[0] for c in calls] == list(range(1, len(north) + 1))
    assert calls[-1] == (len(north), len(north), total, total)
