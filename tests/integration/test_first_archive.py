"""First archive of a sample spoke into series TARs, and the same drop again changing nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from spokesync.catalog import open_catalog
from spokesync.catalog.errors import ManifestInvalid, ObjectRefused
from spokesync.flows.cli.main import app
from spokesync.tasks.config import add_spoke, load_config
from spokesync.tasks.nearline.listing import list_tars
from spokesync.tasks.nearline.members import read_member
from spokesync.tasks.reconcile.run import run_spoke


def tables(config) -> dict[str, list]:
    """A full export of every catalog table, for before/after comparisons."""
    with open_catalog(config.catalog) as con:
        names = [r[0] for r in con.execute("show tables").fetchall()]
        return {n: con.execute(f"select * from {n} order by all").fetchall() for n in names}


def tar_files(config) -> list[str]:
    return sorted(t for v in config.volumes if v.exists() for t in list_tars(v))


def copy_drop(config, spoke: str, to: Path) -> Path:
    shutil.copytree(config.spokes[spoke].drop, to)
    add_spoke(config.file, spoke, to)
    return to


def test_first_archive_catalogues_every_instance_in_one_tar_per_series(hub):
    manifest = pq.read_table(hub.spokes["north"].drop / "manifest.parquet").to_pylist()
    result = run_spoke(hub, "north")
    series = {r["series_instance_uid"] for r in manifest}
    studies = {r["study_instance_uid"] for r in manifest}
    assert result["new_instances"] == len(manifest) and result["tars_written"] == len(series)
    assert result["cc_records"] == len(studies)
    with open_catalog(hub.catalog) as con:
        owners = con.execute("select distinct owner_spoke from studies").fetchall()
        kinds = con.execute("select kind, count(*) from cc_records group by kind").fetchall()
        stored = con.execute(
            "select volume, tar_path, data_offset, size, sha256, "
            "sop_instance_uid from stored_objects"
        ).fetchall()
    assert owners == [("north",)] and kinds == [("NEW_OBJECTS", len(studies))]
    by_sop = {r["sop_instance_uid"]: r for r in manifest}
    for volume, tar_path, offset, size, sha256, sop in stored:
        data = read_member(hub.named_volumes()[volume] / tar_path, offset, size, sha256)
        assert data == (hub.spokes["north"].drop / by_sop[sop]["object_uri"]).read_bytes()


def test_same_drop_again_changes_nothing_but_the_run_log(hub):
    run_spoke(hub, "north")
    before, tars = tables(hub), tar_files(hub)
    again = run_spoke(hub, "north")
    after = tables(hub)
    assert (again["new_instances"], again["tars_written"], again["cc_records"]) == (0, 0, 0)
    assert tar_files(hub) == tars
    assert {k: v for k, v in after.items() if k != "runs"} == {
        k: v for k, v in before.items() if k != "runs"
    }
    assert len(after["runs"]) == len(before["runs"]) + 1


def test_flipped_byte_in_a_tar_makes_verify_fail_and_name_it(hub):
    run_spoke(hub, "north")
    runner = CliRunner()
    ok = runner.invoke(app, ["verify", "--config", str(hub.file)])
    assert ok.exit_code == 0, ok.output
    volume = hub.volumes[0]
    victim = volume / tar_files(hub)[0]
    victim.chmod(0o644)
    data = bytearray(victim.read_bytes())
    data[1024] ^= 0xFF
    victim.write_bytes(bytes(data))
    bad = runner.invoke(app, ["verify", "--config", str(hub.file)], terminal_width=250)
    assert bad.exit_code == 1
    assert "corrupt_member" in bad.output and victim.name in bad.output


def test_fingerprint_mismatch_is_refused_and_nothing_changes(hub, tmp_path):
    drop = copy_drop(hub, "north", tmp_path / "north")
    table = pq.read_table(drop / "manifest.parquet").to_pylist()
    victim = next(r for r in table if r["fingerprint"].startswith("px1:"))
    victim["fingerprint"] = "px1:" + "0" * 64
    pq.write_table(
        pq.read_table(drop / "manifest.parquet").from_pylist(
            table, schema=pq.read_schema(drop / "manifest.parquet")
        ),
        drop / "manifest.parquet",
    )
    config = load_config(hub.file)
    before = tables(config)
    with pytest.raises(ObjectRefused, match=victim["sop_instance_uid"]):
        run_spoke(config, "north")
    assert tables(config) == before and tar_files(config) == []
    assert not any(p.name.count(".partial") for v in config.volumes for p in v.rglob("*"))


def test_object_symlinked_out_of_the_drop_is_refused(hub, tmp_path):
    drop = copy_drop(hub, "north", tmp_path / "north")
    row = pq.read_table(drop / "manifest.parquet").to_pylist()[0]
    target = drop / row["object_uri"]
    outside = tmp_path / "outside.dcm"
    shutil.move(target, outside)
    target.symlink_to(outside)
    config = load_config(hub.file)
    with pytest.raises(ObjectRefused, match="outside the drop"):
        run_spoke(config, "north")
    assert tar_files(config) == []


def test_dry_run_changes_nothing(hub):
    result = run_spoke(hub, "south", dry_run=True)
    plan = pq.read_table(result["plan"])
    assert result["status"] == "dry_run" and set(plan.column("kind").to_pylist()) == {"NEW_OBJECTS"}
    assert tables(hub)["instances"] == [] and tar_files(hub) == []


def test_manifest_older_than_the_last_applied_is_refused(hub, tmp_path):
    run_spoke(hub, "north")
    drop = copy_drop(hub, "north", tmp_path / "north")
    meta = json.loads((drop / "manifest.json").read_text())
    meta["generated_at"] = "2000-01-01T00:00:00Z"
    (drop / "manifest.json").write_text(json.dumps(meta))
    config = load_config(hub.file)
    before = tables(config)
    with pytest.raises(ManifestInvalid, match="older than the manifest last applied"):
        run_spoke(config, "north")
    assert tables(config) == before
