"""A commit that finds the catalog moved since its plan re-plans under the lock, keeping the
TARs it staged whose series are still new and discarding the rest (nothing fails, nothing leaks).
"""

from __future__ import annotations

from spokesync.catalog import open_catalog
from spokesync.catalog.nearline import spoke_summary
from spokesync.tasks.nearline.archive import stage_batch
from spokesync.tasks.reconcile.run import commit_run, new_run, plan_run, run_spoke, stage_manifest
from tests.support.detection import catalog_view


def staged_run(config, spoke: str):
    """A run of `spoke` planned and archived (TARs staged), not committed."""
    state = plan_run(config, stage_manifest(new_run(config, spoke)))
    day = state.started_at.date()
    batches = [
        stage_batch(state.drop, path, config.volumes, state.run_id, day)
        for path in state.batch_paths
    ]
    return state, batches


def staged_tars(batches) -> list:
    return [tar for batch in batches for tar in batch.staged]


def partial_files(config) -> list:
    return [p for volume in config.volumes for p in volume.rglob("*.partial-*")]


def test_second_run_of_the_same_drop_replans_archives_nothing_and_leaves_no_staged_tar(hub):
    first, first_batches = staged_run(hub, "north")
    second, second_batches = staged_run(hub, "north")
    assert staged_tars(second_batches)

    committed = commit_run(hub, first, first_batches)
    again = commit_run(hub, second, second_batches)

    assert committed["new_instances"] > 0 and not committed["replanned"]
    assert again["replanned"]
    assert (again["new_instances"], again["tars_written"], again["cc_records"]) == (0, 0, 0)
    assert not any(tar.temp_path.exists() for tar in staged_tars(second_batches))
    assert partial_files(hub) == []
    with open_catalog(hub.catalog) as con:
        held = {r["spoke"]: r["instances"] for r in spoke_summary(con)}
    assert held == {"north": committed["new_instances"]}


def test_spoke_committing_after_another_keeps_its_staged_tars_and_ends_as_run_in_turn(
    hub, tmp_path
):
    from spokesync.tasks.config import add_spoke, init_config, load_config

    north, north_batches = staged_run(hub, "north")
    south, south_batches = staged_run(hub, "south")
    commit_run(hub, north, north_batches)
    result = commit_run(hub, south, south_batches)

    assert result["replanned"] and result["new_instances"] > 0
    assert result["tars_written"] == len(staged_tars(south_batches))
    assert all(tar.final_path.exists() for tar in staged_tars(south_batches))
    assert partial_files(hub) == []
    in_turn = init_config(tmp_path / "in-turn")
    for spoke in ("north", "south"):
        add_spoke(in_turn, spoke, hub.spoke(spoke).drop)
    sequential = load_config(in_turn)
    for spoke in ("north", "south"):
        run_spoke(sequential, spoke)
    assert catalog_view(hub) == catalog_view(sequential)
