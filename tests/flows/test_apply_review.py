"""The apply-review flow takes the same decisions as the CLI, for deployments."""

from __future__ import annotations

import simulator as sim
from spokesync.catalog import open_catalog
from spokesync.catalog.review import open_reviews
from spokesync.flows.review import apply_review
from spokesync.tasks.config import add_spoke, load_config
from spokesync.tasks.reconcile.run import run_spoke


def test_apply_review_flow_rejects_then_refuses_a_second_decision(hub, tmp_path):
    run_spoke(hub, "north")
    table = sim.manifest_of(hub.spokes["north"].drop)
    drop = tmp_path / "fixed"
    sim.apply_operations(
        hub.spokes["north"].drop, [sim.fix_uid(table, sim.study_uids(table)[2])], drop
    )
    add_spoke(hub.file, "north", drop)
    run_spoke(load_config(hub.file), "north")
    with open_catalog(hub.catalog) as con:
        seq = open_reviews(con)[0]["seq"]

    result = apply_review(
        seq, "reject", reason="not this order", by="flow-user", config_file=str(hub.file)
    )
    assert result["decision"] == "reject" and result["moved"] == 0

    second = apply_review(seq, "approve", config_file=str(hub.file), return_state=True)
    assert second.is_failed()
    assert "already decided" in str(second.result(raise_on_failure=False))
