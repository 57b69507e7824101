"""Review decisions: a UID fix waits, then moves on approval; rejections change nothing."""

from __future__ import annotations

import csv

import pytest
from typer.testing import CliRunner

import simulator as sim
from spokesync.catalog import open_catalog
from spokesync.catalog.review import open_reviews, resolve_study
from spokesync.flows.cli.main import app
from spokesync.tasks.config import add_spoke, init_config, load_config
from spokesync.tasks.reconcile.run import run_spoke
from tests.support.detection import catalog_view, drop_view

runner = CliRunner()


@pytest.fixture
def uid_fix(tmp_path, sample_drops, request):
    """North archived, then its study 1 matched to an order (UID fix) and reconciled."""
    convention = getattr(request, "param", "impax")
    file = init_config(tmp_path / "hub")
    add_spoke(file, "north", sample_drops["north"])
    run_spoke(load_config(file), "north")
    table = sim.manifest_of(sample_drops["north"])
    drop = tmp_path / "fixed"
    truth = sim.apply_operations(
        sample_drops["north"], [sim.fix_uid(table, sim.study_uids(table)[1], convention)], drop
    )
    add_spoke(file, "north", drop)
    run_spoke(load_config(file), "north")
    with open_catalog(load_config(file).catalog) as con:
        seq = open_reviews(con)[0]["seq"]
    return load_config(file), drop, truth.records[0], seq


def cli(config, *args):
    return runner.invoke(app, [*args, "--config", str(config.file)], terminal_width=200)


@pytest.mark.parametrize("uid_fix", ["impax", "orthanc"], indirect=True)
def test_approved_uid_fix_moves_the_study_and_maps_its_uids(uid_fix):
    config, drop, truth, seq = uid_fix
    old, new = truth.source_study_uids[0], truth.target_study_uids[0]
    assert not {r for r in catalog_view(config) if r[2] == new}
    shown = cli(config, "review", "show", str(seq))
    assert shown.exit_code == 0 and "approving moves every instance" in shown.output
    result = cli(config, "review", "approve", str(seq), "--by", "night-admin")
    assert result.exit_code == 0, result.output
    assert f"record {seq} approved by night-admin" in result.output
    assert catalog_view(config) == drop_view(drop)
    with open_catalog(config.catalog) as con:
        mapped = con.execute(
            "select new_uid from uid_map where level = 'study' and old_uid = ?", [old]
        ).fetchall()
        decision = con.execute(
            "select status, decided_by, refers_to from cc_records where refers_to = ?", [seq]
        ).fetchall()
        assert resolve_study(con, old) == ([new], True)
        assert open_reviews(con) == []
    assert mapped == [(new,)] and decision == [("applied", "night-admin", seq)]
    again = run_spoke(config, "north")
    assert again["cc_records"] == 0


def test_rejected_uid_fix_moves_nothing_and_logs_the_decision(uid_fix):
    config, _, truth, seq = uid_fix
    before = catalog_view(config)
    result = cli(config, "review", "reject", str(seq), "--reason", "wrong order", "--by", "ana")
    assert result.exit_code == 0, result.output
    assert catalog_view(config) == before
    with open_catalog(config.catalog) as con:
        decision = con.execute(
            "select status, decided_by, reason from cc_records where refers_to = ?", [seq]
        ).fetchall()
        assert open_reviews(con) == []
    assert decision == [("rejected", "ana", "wrong order")]
    assert run_spoke(config, "north")["cc_records"] == 0


def test_a_decision_cannot_be_taken_twice(uid_fix):
    config, _, _, seq = uid_fix
    assert cli(config, "review", "approve", str(seq)).exit_code == 0
    twice = cli(config, "review", "approve", str(seq))
    assert twice.exit_code == 2 and "already decided" in twice.output


def ambiguous(tmp_path, sample_drops):
    """North archived, then reconciled with a drop whose pairing numbers cannot resolve."""
    study = sim.study_uids(sim.manifest_of(sample_drops["north"]))[0]
    before, after = tmp_path / "before", tmp_path / "after"
    sim.make_ambiguous(sample_drops["north"], before, after, study)
    file = init_config(tmp_path / "hub")
    add_spoke(file, "north", before)
    run_spoke(load_config(file), "north")
    add_spoke(file, "north", after)
    config = load_config(file)
    run_spoke(config, "north")
    with open_catalog(config.catalog) as con:
        return config, after, open_reviews(con)[0]["seq"]


def test_ambiguous_record_is_approved_with_an_explicit_pairing(tmp_path, sample_drops):
    config, after, seq = ambiguous(tmp_path, sample_drops)
    with open_catalog(config.catalog) as con:
        members = con.execute(
            "select old_sop_uid, new_sop_uid, instance_id from cc_instances "
            "where seq = ? order by all",
            [seq],
        ).fetchall()
    olds = sorted(m[0] for m in members if m[2] is not None)
    news = sorted(m[1] for m in members if m[2] is None)
    assert cli(config, "review", "approve", str(seq)).exit_code == 2
    pairing = tmp_path / "pairing.csv"
    with pairing.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["old_sop_uid", "new_sop_uid"])
        writer.writerows(zip(olds, news, strict=True))
    result = cli(config, "review", "approve", str(seq), "--pairing", str(pairing))
    assert result.exit_code == 0, result.output
    moved = {r[0]: r[2] for r in catalog_view(config)}
    assert all(
        moved[new] == study_after
        for new, study_after in [(r[0], r[2]) for r in drop_view(after) if r[0] in news]
    )
    # the new study was created from its source's values; the next run corrects them, logged
    settled = run_spoke(config, "north")
    assert set(settled["kinds"]) <= {"ATTRIBUTES"}
    assert catalog_view(config) >= drop_view(after)


def test_changes_list_accepts_an_old_study_uid_and_says_it_resolved_it(uid_fix):
    config, _, truth, seq = uid_fix
    old, new = truth.source_study_uids[0], truth.target_study_uids[0]
    assert cli(config, "review", "approve", str(seq)).exit_code == 0
    listed = CliRunner().invoke(
        app, ["changes", "list", "--study", old, "--format", "json", "--config", str(config.file)]
    )
    assert listed.exit_code == 0, listed.output
    assert f"resolved old study UID {old} to {new}" in listed.stderr
    import json

    records = json.loads(listed.stdout)
    assert {r["kind"] for r in records} >= {"UID_FIX", "NEW_OBJECTS"}


def test_an_approved_uid_fix_can_be_reverted(uid_fix):
    config, _, truth, seq = uid_fix
    before = catalog_view(config)
    approved = cli(config, "review", "approve", str(seq))
    assert approved.exit_code == 0 and catalog_view(config) != before
    decision = int(approved.output.split(" as record ")[1].split(";")[0])
    reverted = cli(config, "changes", "revert", str(decision), "--by", "ana")
    assert reverted.exit_code == 0, reverted.output
    assert catalog_view(config) == before
    with open_catalog(config.catalog) as con:
        assert resolve_study(con, truth.source_study_uids[0]) == (
            [truth.source_study_uids[0]],
            False,
        )


def test_review_list_filters_by_study_uid(uid_fix):
    config, _, truth, seq = uid_fix
    listed = cli(config, "review", "list", "--study", truth.target_study_uids[0])
    assert listed.exit_code == 0 and f"│ {seq} " in listed.output
    other = cli(config, "review", "list", "--study", "1.2.3.4")
    assert other.exit_code == 0 and "0 record(s)" in other.output
