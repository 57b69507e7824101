"""`spokesync manifest pull` and the other ways to point a hub at a PACS, against Orthanc."""

from __future__ import annotations

import io
import shutil
from datetime import date

import pyarrow.parquet as pq
import pytest
from rich.console import Console
from typer.testing import CliRunner

from spokesync.flows.cli.main import app
from spokesync.flows.demo_orthanc import attach_pacs
from spokesync.tasks.config import init_config, load_config
from spokesync.tasks.manifest.build import build_drop
from spokesync.tasks.manifest.drop_read import read_drop
from spokesync.tasks.reconcile.run import run_spoke
from tests.support.detection import records_of_run
from tests.support.orthanc import HUB_AET, ORTHANC_AET, PASSWORD, USER
from tests.support.orthanc_ops import delete_instance, store_new_study, studies_by_patient
from tests.support.pacs import PACS_INSTANCES, PROTOCOLS, pacs_files, pacs_hub

pytestmark = pytest.mark.integration
IDENTITY = ("sop_instance_uid", "series_instance_uid", "study_instance_uid", "patient_id",
            "fingerprint", "sop_class_uid", "instance_number", "series_number")  # fmt: skip


def identities(drop) -> set[tuple]:
    rows = pq.read_table(drop / "manifest.parquet").to_pylist()
    return {tuple(r[c] for c in IDENTITY) for r in rows}


@pytest.mark.parametrize("how", ["--dicomweb", "--dimse"])
def test_manifest_pull_writes_the_drop_the_objects_themselves_make(
    orthanc_north, sample_sources, tmp_path, how
):
    for path in pacs_files(sample_sources["north"]):
        target = tmp_path / "files" / path.relative_to(sample_sources["north"])
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    build_drop(tmp_path / "files", "north", tmp_path / "built")
    file = init_config(tmp_path / "hub")
    where = orthanc_north.dicomweb if how == "--dicomweb" else (
        f"{ORTHANC_AET}@127.0.0.1:{orthanc_north.dicom_port}")  # fmt: skip
    options = ["--username-env", "NORTH_PACS_USER", "--password-env", "NORTH_PACS_PASSWORD"]
    options = options if how == "--dicomweb" else ["--calling-aet", HUB_AET]
    runner = CliRunner()
    added = runner.invoke(app, ["spoke", "add", "north", how, where, *options, "--config", file])
    assert added.exit_code == 0, added.output
    out = tmp_path / "pulled"

    pulled = runner.invoke(
        app, ["manifest", "pull", "north", "--out", str(out), "--all-objects", "--config", file]
    )

    assert pulled.exit_code == 0, pulled.output
    assert f"{PACS_INSTANCES} instances of 3 studies" in pulled.output
    assert f"{PACS_INSTANCES} object(s) fetched" in pulled.output
    assert len(read_drop(out, "north").manifest) == PACS_INSTANCES
    assert identities(out) == identities(tmp_path / "built")
    again = runner.invoke(app, ["manifest", "pull", "north", "--out", str(out), "--config", file])
    assert again.exit_code == 2 and "not empty" in again.output


def test_c_move_to_the_hubs_own_storage_scp_archives_and_then_fetches_nothing(
    orthanc_north, tmp_path
):
    config = pacs_hub(tmp_path / "hub", orthanc_north, "dimse", retrieve="move")

    first = run_spoke(config, "north")
    second = run_spoke(config, "north")

    assert (first["fetched"], first["new_instances"]) == (PACS_INSTANCES, PACS_INSTANCES)
    assert (second["fetched"], second["cc_records"]) == (0, 0)


def test_a_spoke_in_the_configuration_never_holds_its_password(orthanc, tmp_path):
    file = init_config(tmp_path / "hub")
    file.write_text(
        file.read_text() + f'\n[spokes.north]\nsource = "dicomweb"\nurl = "{orthanc.dicomweb}"\n'
        'password = "s3cret"\n'
    )
    with pytest.raises(Exception, match="password must not be written in the configuration"):
        load_config(file)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_since_attribute_narrows_a_night_to_recent_studies_and_deletes_nothing_unlisted(
    orthanc_north, tmp_path, protocol
):
    config = pacs_hub(tmp_path / "hub", orthanc_north, protocol, since_attribute="StudyDate")
    assert run_spoke(config, "north")["manifest_rows"] == PACS_INSTANCES  # no run yet: all
    old = next(iter(studies_by_patient(orthanc_north).values()))[0]
    today = store_new_study(orthanc_north, date.today())
    delete_instance(orthanc_north, old)  # tonight's query does not list the old study

    night = run_spoke(config, "north")

    assert night["manifest_rows"] == 1 and night["fetched"] == 1
    assert records_of_run(config, night["run_id"]) == [("NEW_OBJECTS", "applied", (), (today,), ())]


def test_the_demo_stores_east_into_a_running_pacs_once_and_pulls_it(orthanc, tmp_path, monkeypatch):
    orthanc.reset()
    monkeypatch.setenv("ORTHANC_USER", USER)
    monkeypatch.setenv("ORTHANC_PASSWORD", PASSWORD)
    file = init_config(tmp_path / "demo")
    console = Console(file=io.StringIO())

    attach_pacs(console, tmp_path / "demo", file, orthanc.dicomweb)
    attach_pacs(console, tmp_path / "demo", file, orthanc.dicomweb)  # a second demo run

    east = load_config(file).spokes["east"]
    assert (east.source, east.username_env, east.password_env) == ("dicomweb", "ORTHANC_USER",
                                                                   "ORTHANC_PASSWORD")  # fmt: skip
    assert len(orthanc.rest("GET", "/instances")) == 21
    assert run_spoke(load_config(file), "east")["fetched"] == 21
