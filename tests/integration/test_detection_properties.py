"""Property: any random sequence of spoke operations is recovered exactly by detection."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import simulator as sim
from spokesync.tasks.manifest.build import write_manifest
from spokesync.tasks.reconcile.run import run_spoke
from tests.support.detection import (
    catalog_view,
    copy_hub,
    drop_view,
    expected_records,
    records_of_run,
)

EXAMPLES = 40  # about 1 min; bench/detection_accuracy.py runs 200, and the spoke-truth
# property (tests/integration/test_spoke_truth.py) judges real files besides
_counter = itertools.count()


@pytest.mark.timeout(3600)  # minutes, not a hang
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(0, 2**32 - 1), count=st.integers(1, 5))
def test_random_operations_are_detected_exactly(
    archived, sample_drops, tmp_path_factory, seed, count
):
    work = tmp_path_factory.mktemp(f"prop{next(_counter)}")
    table = sim.manifest_of(sample_drops["north"])
    ops = sim.random_operations(table, random.Random(seed), count)
    drop = work / "drop"
    truth = sim.apply_operations(sample_drops["north"], ops, drop, seed=f"p{seed}")
    config = copy_hub(archived, work / "hub", "north", drop)
    result = run_spoke(config, "north", allow_mass_delete=True)

    assert records_of_run(config, result["run_id"]) == expected_records(truth), ops
    pending = {
        u
        for r in truth.records
        if r.status != "applied"
        for u in (*r.source_study_uids, *r.target_study_uids)
    }
    settled = {r[2] for r in drop_view(drop)} - pending
    assert {r for r in catalog_view(config) if r[2] in settled} == drop_view(drop, settled)

    again = run_spoke(config, "north", dry_run=True)
    assert again["kinds"] == {} and again["new_instances"] == 0 and again["deleting"] == 0

    unreported = work / "unreported"
    first = sim.study_uids(sim.manifest_of(drop))[0]
    kept = sim.manifest_of(drop).filter(
        [s != first for s in sim.manifest_of(drop).column("study_instance_uid").to_pylist()]
    )
    write_manifest(kept, unreported, "north")
    (unreported / "objects").symlink_to(drop / "objects")
    without = run_spoke(config, "north", drop=unreported, dry_run=True)
    assert "DELETE" not in without["kinds"] and without["deleting"] == 0
