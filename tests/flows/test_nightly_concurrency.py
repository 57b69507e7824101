"""The nightly flow stages spokes' TARs in parallel but plans and commits them one at a time,
and ends with the catalog that running the spokes one after the other gives; where the Prefect
server has the `catalog-writer` limit, each plan and commit holds one of its slots."""

from __future__ import annotations

import threading

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate

import spokesync.tasks.nearline.archive
import spokesync.tasks.reconcile.commit as commit_module
import spokesync.tasks.reconcile.run
from spokesync.catalog import open_catalog
from spokesync.catalog.changes import list_changes
from spokesync.flows.reconcile import nightly_reconcile
from spokesync.flows.writer_limit import WRITER_LIMIT, ensure_writer_limit
from spokesync.tasks.config import add_spoke, init_config, load_config
from spokesync.tasks.reconcile.run import run_spoke
from tests.support.detection import catalog_view

SPOKES = ("north", "south")


def overlap(first: tuple[float, float], second: tuple[float, float]) -> bool:
    return max(first[0], second[0]) < min(first[1], second[1])


def meet_in_archive(monkeypatch, parties: int) -> None:
    """Hold each spoke's first archive batch until every spoke has one staging (or 60 s pass).

    A flow that archived the spokes one after another would break the barrier: its first
    spoke's batch would fail with BrokenBarrierError, and the spoke with it.
    """
    barrier, met, guard = threading.Barrier(parties, timeout=60), set(), threading.Lock()
    real = spokesync.tasks.nearline.archive.stage_batch

    def staging_together(drop, *args):
        with guard:
            first = drop not in met
            met.add(drop)
        if first:
            barrier.wait()
        return real(drop, *args)

    monkeypatch.setattr(spokesync.tasks.nearline.archive, "stage_batch", staging_together)


def test_nightly_archives_two_spokes_at_the_same_time_and_commits_them_in_turn(hub, monkeypatch):
    meet_in_archive(monkeypatch, len(SPOKES))

    results = nightly_reconcile(config_file=str(hub.file))

    assert [results[s]["status"] for s in SPOKES] == ["committed", "committed"]
    steps = [results[s]["steps"] for s in SPOKES]
    assert overlap(steps[0]["archive"], steps[1]["archive"])
    assert not overlap(steps[0]["commit"], steps[1]["commit"])
    assert not overlap(steps[0]["plan"], steps[1]["plan"])
    assert results["south"]["replanned"]  # north committed between south's plan and commit
    assert results["south"]["tars_written"] > 0


def test_nightly_catalog_equals_the_spokes_reconciled_one_after_the_other(hub, tmp_path):
    nightly_reconcile(config_file=str(hub.file))
    file = init_config(tmp_path / "in-turn")
    for spoke in SPOKES:
        add_spoke(file, spoke, hub.spoke(spoke).drop)
    in_turn = load_config(file)
    for spoke in SPOKES:
        run_spoke(in_turn, spoke)

    assert catalog_view(hub) == catalog_view(in_turn)
    assert changes(hub) == changes(in_turn)
    assert stored_objects(hub) == stored_objects(in_turn)


def changes(config) -> list[tuple]:
    """The change log without run ids, sequence numbers and times."""
    with open_catalog(config.catalog) as con:
        records = list_changes(con)
    keys = ("spoke", "kind", "status", "source_study_uids", "target_study_uids", "instances")
    return sorted(tuple(str(r.get(k)) for k in keys) for r in records)


def stored_objects(config) -> list[tuple]:
    """What nearline holds per instance: its bytes' hash and size."""
    with open_catalog(config.catalog) as con:
        query = "select sop_instance_uid, sha256, size from stored_objects"
        return sorted(con.execute(query).fetchall())


@pytest.fixture
def writer_limit():
    """The `catalog-writer` limit on the session's Prefect server, as `prefect deploy` leaves it;
    deleted afterwards, so other tests see a server without it."""
    yield ensure_writer_limit()
    with get_client(sync_client=True) as client:
        client.delete_global_concurrency_limit_by_name(WRITER_LIMIT)


def active_writer_slots() -> int:
    with get_client(sync_client=True) as client:
        return client.read_global_concurrency_limit_by_name(WRITER_LIMIT).active_slots


def test_deploying_creates_the_writer_limit_once_and_keeps_a_limit_an_administrator_changed(
    writer_limit,
):
    assert writer_limit == {"writer_limit": "created"}
    with get_client(sync_client=True) as client:
        client.update_global_concurrency_limit(WRITER_LIMIT, GlobalConcurrencyLimitUpdate(limit=3))

    assert ensure_writer_limit() == {"writer_limit": "exists"}
    with get_client(sync_client=True) as client:
        assert client.read_global_concurrency_limit_by_name(WRITER_LIMIT).limit == 3


def test_nightly_holds_a_writer_slot_while_each_spoke_plans_and_commits(
    hub, monkeypatch, writer_limit
):
    held: dict[str, list[int]] = {"plan": [], "commit": []}
    real_plan, real_commit = spokesync.tasks.reconcile.run.plan_run, commit_module.commit_run

    def planning(*args, **kwargs):
        held["plan"].append(active_writer_slots())
        return real_plan(*args, **kwargs)

    def committing(*args, **kwargs):
        held["commit"].append(active_writer_slots())
        return real_commit(*args, **kwargs)

    monkeypatch.setattr(spokesync.tasks.reconcile.run, "plan_run", planning)
    monkeypatch.setattr(commit_module, "commit_run", committing)

    results = nightly_reconcile(config_file=str(hub.file))

    assert [results[s]["status"] for s in SPOKES] == ["committed", "committed"]
    assert held == {"plan": [1, 1], "commit": [1, 1]}
    assert active_writer_slots() == 0  # every slot went back
