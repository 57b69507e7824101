"""Storage faults (issue 9, part 3): verify names each damaged TAR and what it holds, and
retrieval never hands out bytes whose SHA-256 does not match the catalog."""

from __future__ import annotations

import datetime
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import pydicom
import pytest
from typer.testing import CliRunner

import simulator as sim
from spokesync.flows.cli.main import app
from spokesync.tasks.config import add_spoke, init_config, load_config
from spokesync.tasks.nearline.tars import SUMS_NAME, publish, stage_series_tar, tar_relpath
from spokesync.tasks.nearline.verify import verify_nearline
from spokesync.tasks.nearline.volume_check import read_headers
from spokesync.tasks.reconcile.run import run_spoke
from spokesync.tasks.retrieve.plan import plan_study, tar_of
from tests.integration.test_retrieve_storescp import storescp  # noqa: F401  a fixture
from tests.support.builders import flip_byte

STRAY_SERIES = "2.25.999"


@dataclass
class Damaged:
    """A hub of its own whose nearline holds one fault of each kind, and what verify said."""

    config: object
    studies: list[str]
    victims: dict  # fault -> the damaged StoredInstance (or one of the TAR it damaged)
    paths: dict  # fault -> the damaged file
    findings: list
    output: str
    exit_code: int


def series_of(config, study: str, index: int) -> list:
    """The stored instances of the study's index-th TAR, in TAR order."""
    instances = plan_study(config, study).instances
    tars = sorted({i.tar_path for i in instances})
    return [i for i in instances if i.tar_path == tars[index]]


def make_faults(config, studies: list[str]) -> tuple[dict, dict]:
    """One fault per TAR, on different studies where retrieval should tell them apart."""
    data, truncated, missing = (series_of(config, s, 0) for s in studies[:3])
    sums, header = series_of(config, studies[3], 0), series_of(config, studies[3], 1)
    victims = {"data": data[4], "truncated": truncated[5], "missing": missing[0],
               "sums": sums[0], "header": header[2]}  # fmt: skip
    paths = {fault: tar_of(inst) for fault, inst in victims.items()}
    flip_byte(paths["data"], data[4].data_offset + data[4].size // 2)
    paths["truncated"].chmod(0o644)
    os.truncate(paths["truncated"], truncated[5].data_offset + 7)
    paths["missing"].unlink()
    [(_, sums_at, _)] = [h for h in read_headers(paths["sums"]) if h[0] == SUMS_NAME]
    flip_byte(paths["sums"], sums_at + 3)
    flip_byte(paths["header"], header[2].data_offset - 512 + 20)  # the member's name, in its header
    volume, today = config.volumes[0], datetime.date.today()
    orphan = tar_relpath(today, studies[4], STRAY_SERIES, "orphan")
    paths["orphan"] = publish(stage_series_tar(volume, orphan, [("1.2.3.dcm", b"x" * 300)]))
    stray = tar_relpath(today, studies[4], STRAY_SERIES, "stray")
    paths["partial"] = stage_series_tar(volume, stray, [("1.2.4.dcm", b"y" * 300)]).temp_path
    return victims, paths


@pytest.fixture(scope="module")
def damaged(tmp_path_factory, sample_drops) -> Damaged:
    file = init_config(tmp_path_factory.mktemp("faults") / "hub")  # damaged TARs stay private
    add_spoke(file, "north", sample_drops["north"])
    config = load_config(file)
    run_spoke(config, "north")
    studies = sim.study_uids(sim.manifest_of(sample_drops["north"]))
    victims, paths = make_faults(config, studies)
    findings, _ = verify_nearline(config)
    run = CliRunner().invoke(app, ["verify", "--config", str(file)], terminal_width=400)
    return Damaged(config, studies, victims, paths, findings, run.output, run.exit_code)


def found(damaged: Damaged, fault: str, kind: str) -> list:
    path = damaged.paths[fault]
    return [f for f in damaged.findings if f.kind == kind and f.volume / f.relpath == path]


def test_verify_exits_1_and_prints_every_damaged_file_with_its_full_path(damaged):
    assert damaged.exit_code == 1
    for fault, path in damaged.paths.items():
        assert str(path) in damaged.output, fault
    assert "problem(s) in nearline" in damaged.output


def test_a_flipped_data_byte_names_the_object_its_series_and_its_study(damaged):
    victim = damaged.victims["data"]
    [finding] = found(damaged, "data", "corrupt_member")
    assert finding.member == f"{victim.sop_instance_uid}.dcm" and "SHA-256 is" in finding.detail
    assert finding.studies == (damaged.studies[0],)
    assert finding.series == (victim.series_instance_uid,)
    assert finding.sops == (victim.sop_instance_uid,)
    assert f"SOP instances {victim.sop_instance_uid}" in damaged.output
    assert f"studies {damaged.studies[0]}" in damaged.output


def test_a_flipped_byte_in_sha256sums_names_the_member_whose_line_changed(damaged):
    [finding] = found(damaged, "sums", "corrupt_sums")
    assert SUMS_NAME in finding.detail and finding.studies == (damaged.studies[3],)
    assert finding.sops == (damaged.victims["sums"].sop_instance_uid,)


def test_a_flipped_byte_in_a_tar_header_makes_the_whole_tar_unreadable(damaged):
    [finding] = found(damaged, "header", "unreadable_tar")
    instances = series_of(damaged.config, damaged.studies[3], 1)
    assert finding.studies == (damaged.studies[3],)
    assert finding.sops == tuple(sorted(i.sop_instance_uid for i in instances))
    assert not found(damaged, "header", "corrupt_member")  # the objects' bytes are intact


def test_a_truncated_tar_names_every_object_it_lost(damaged):
    [whole] = found(damaged, "truncated", "unreadable_tar")
    lost = found(damaged, "truncated", "corrupt_member")
    instances = series_of(damaged.config, damaged.studies[1], 0)
    assert "truncated" in whole.detail and whole.studies == (damaged.studies[1],)
    assert [f.sops[0] for f in lost] == [i.sop_instance_uid for i in instances[5:]]


def test_a_missing_tar_names_its_study_and_all_its_objects(damaged):
    [finding] = found(damaged, "missing", "missing_tar")
    instances = series_of(damaged.config, damaged.studies[2], 0)
    assert finding.studies == (damaged.studies[2],)
    assert finding.series == (damaged.victims["missing"].series_instance_uid,)
    assert finding.sops == tuple(sorted(i.sop_instance_uid for i in instances))


@pytest.mark.parametrize("fault, kind", [("orphan", "orphan_tar"), ("partial", "partial_tar")])
def test_an_unreferenced_tar_is_named_with_the_study_and_series_of_its_path(damaged, fault, kind):
    [finding] = found(damaged, fault, kind)
    assert finding.studies == (damaged.studies[4],) and finding.series == (STRAY_SERIES,)
    assert f"studies {damaged.studies[4]}; series {STRAY_SERIES}" in damaged.output


def retrieve(damaged: Damaged, study: str, out: Path):
    args = ["retrieve", study, "--out", str(out), "--config", str(damaged.config.file)]
    return CliRunner().invoke(app, args, terminal_width=400)


def delivered_hashes(out: Path) -> dict[str, str]:
    return {f.stem: hashlib.sha256(f.read_bytes()).hexdigest() for f in out.rglob("*.dcm")}


@pytest.mark.parametrize("fault, study", [("data", 0), ("truncated", 1), ("missing", 2)])
def test_retrieval_leaves_out_and_names_every_bad_object_and_delivers_the_rest_intact(
    damaged, tmp_path, fault, study
):
    uid, path = damaged.studies[study], damaged.paths[fault]
    instances = plan_study(damaged.config, uid).instances
    lost = found(damaged, fault, "corrupt_member") or found(damaged, fault, "missing_tar")
    bad = {sop for finding in lost for sop in finding.sops}
    run = retrieve(damaged, uid, tmp_path / "out")
    assert run.exit_code == 1, run.output
    assert bad and all(sop in run.output for sop in bad) and str(path) in run.output
    delivered = delivered_hashes(tmp_path / "out")
    assert delivered == {i.sop_instance_uid: i.sha256 for i in instances
                         if i.sop_instance_uid not in bad}  # fmt: skip


def test_retrieval_of_a_study_with_a_damaged_header_or_checksum_list_still_sends_every_object(
    damaged, tmp_path
):
    uid = damaged.studies[3]
    run = retrieve(damaged, uid, tmp_path / "out")
    assert run.exit_code == 0, run.output
    instances = plan_study(damaged.config, uid).instances
    assert delivered_hashes(tmp_path / "out") == {i.sop_instance_uid: i.sha256 for i in instances}


def test_c_store_never_sends_the_object_with_a_flipped_byte(damaged, storescp):  # noqa: F811
    node, received = storescp
    uid, victim = damaged.studies[0], damaged.victims["data"]
    args = ["retrieve", uid, "--to", node, "--config", str(damaged.config.file)]
    run = CliRunner().invoke(app, args, terminal_width=400)
    assert run.exit_code == 1 and victim.sop_instance_uid in run.output, run.output
    sent = {pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in received.iterdir()}
    others = {i.sop_instance_uid for i in plan_study(damaged.config, uid).instances} - {
        victim.sop_instance_uid
    }
    assert sent == others
