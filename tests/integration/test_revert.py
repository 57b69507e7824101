"""Every applied change can be undone by a compensating record (DESIGN §4 rule 6)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import simulator as sim
from spokesync.catalog import open_catalog, review
from spokesync.catalog.changes import list_changes
from spokesync.flows.cli.main import app
from spokesync.tasks.config import add_spoke, load_config
from spokesync.tasks.reconcile.run import run_spoke
from tests.integration.test_detection import OPERATIONS
from tests.support.detection import catalog_view, copy_hub

runner = CliRunner()
REVERTIBLE = [
    "split",
    "merge",
    "merge_into_new",
    "segment",
    "correct_patient_name",
    "correct_patient_id",
    "correct_study_description",
    "delete_series",
    "delete_study",
    "add_presentation_state",
    "new_study",
]


def changed(archived, sample_drops, tmp_path, name, convention):
    table = sim.manifest_of(sample_drops["north"])
    drop = tmp_path / "drop"
    sim.apply_operations(sample_drops["north"], OPERATIONS[name](table, convention), drop)
    config = copy_hub(archived, tmp_path / "hub", "north", drop)
    before = catalog_view(config)
    result = run_spoke(config, "north", allow_mass_delete=True)
    with open_catalog(config.catalog) as con:
        records = [r for r in list_changes(con) if r["run_id"] == result["run_id"]]
        seqs = [r["seq"] for r in records if r["status"] == "applied"]
        for r in records:  # a re-identified study waits for review: approve it, as a person would
            if r["status"] == "pending_review":
                seqs.append(review.approve(con, r["seq"], by="tester").seq)
    return config, before, seqs


def revert(config, seq):
    return runner.invoke(
        app,
        ["changes", "revert", str(seq), "--by", "tester", "--config", str(config.file)],
        terminal_width=200,
    )


@pytest.mark.parametrize("convention", ["impax", "orthanc"])
@pytest.mark.parametrize("name", REVERTIBLE)
def test_revert_restores_the_view_before_the_change(
    archived, sample_drops, tmp_path, name, convention
):
    config, before, seqs = changed(archived, sample_drops, tmp_path, name, convention)
    assert seqs and catalog_view(config) != before
    for seq in reversed(seqs):
        result = revert(config, seq)
        assert result.exit_code == 0, result.output
    assert catalog_view(config) == before


def test_revert_is_refused_when_a_later_change_depends_on_it(archived, sample_drops, tmp_path):
    config, _, seqs = changed(
        archived, sample_drops, tmp_path, "correct_study_description", "impax"
    )
    table = sim.manifest_of(config.spokes["north"].drop)
    study = sim.study_uids(table)[3]
    later = tmp_path / "later"
    sim.apply_operations(
        config.spokes["north"].drop,
        [sim.Correct("study", study, "study_description", "AGAIN", "impax")],
        later,
    )
    add_spoke(config.file, "north", later)
    second = run_spoke(load_config(config.file), "north")
    assert second["kinds"] == {"ATTRIBUTES": 1}
    refused = revert(config, seqs[0])
    assert refused.exit_code == 2 and "later change" in refused.output
    assert str(seqs[0] + 1) in refused.output
    twice = revert(config, seqs[0] + 1)
    assert twice.exit_code == 0
    assert "already reverted" in revert(config, seqs[0] + 1).output
