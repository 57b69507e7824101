"""Committing a run: re-plan if the catalog moved, publish TARs, apply in one transaction."""

from __future__ import annotations

import shutil
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from prefect import task
from prefect.cache_policies import NO_CACHE

from spokesync.catalog import open_catalog
from spokesync.catalog.apply import PlanTables, apply_plan, catalog_version
from spokesync.catalog.faults import kill_point
from spokesync.catalog.runs import recorded_run_ids
from spokesync.tasks.nearline.archive import (
    STORED_SCHEMA,
    ArchiveBatch,
    discard_all,
    publish_all,
    stage_batch,
)
from spokesync.tasks.nearline.hub_check import ensure_nearline
from spokesync.tasks.nearline.orphans import sweep_orphans
from spokesync.tasks.nearline.volumes import mark_last_run
from spokesync.tasks.reconcile.planning import plan_locked
from spokesync.tasks.reconcile.state import PLAN_FILES, RunState, summary, timed

if TYPE_CHECKING:
    import duckdb

    from spokesync.tasks.config import Config


def load_plan(state: RunState, batches: list[ArchiveBatch]) -> PlanTables:
    tables = {name: pq.read_table(state.path(name)) for name in PLAN_FILES}
    return PlanTables(
        state.path("manifest"),  # read by DuckDB where the commit joins it
        tables["records"],
        tables["members"],
        tables["attributes"],
        stored_members(batches),
        tables["stale"],
        tables["values"],
    )


def stored_members(batches: list[ArchiveBatch]) -> pa.Table:
    """Every member the batches staged, one row per object."""
    stored = [pq.read_table(b.stored_path) for b in batches]
    return pa.concat_tables(stored) if stored else STORED_SCHEMA.empty_table()


def commit_run(
    config: Config,
    state: RunState,
    batches: list[ArchiveBatch],
    *,
    wait: bool | float = True,
    fail_after: str | None = None,
) -> dict:
    """Under the writer lock: re-plan if another run committed since planning, check the
    volumes, move aside what killed runs left in nearline, publish TARs, apply in one
    transaction, then name the run in the markers of the volumes it wrote to."""
    if batches:
        state.steps["archive"] = (min(b.started for b in batches), max(b.ended for b in batches))
    with ExitStack() as stack:
        try:
            con = stack.enter_context(open_catalog(config.catalog, wait=wait))
            stack.enter_context(timed(state, "commit"))
            if catalog_version(con) != state.version:
                batches = replan(con, config, state, batches)
            plan = load_plan(state, batches)
            ensure_nearline(con, config)
            sweep_orphans(config.work, config.volumes, recorded_run_ids(con), state.run_id)
        except BaseException:
            discard_all(batches)  # nothing was published yet: leave nearline as it was
            raise
        tars, records = _publish_and_apply(con, config, state, batches, plan, fail_after)
    discard_pulled_objects(state)
    return summary(
        state,
        status="committed",
        tars=tars,
        records=records,
        bytes_archived=sum(plan.stored.column("size").to_pylist()),
    )


def _publish_and_apply(con, config: Config, state: RunState, batches, plan, fail_after):
    """Publish the staged TARs, apply the plan in one transaction, mark the volumes written."""
    tars = publish_all(batches)
    records = apply_plan(
        con, state.record(), plan, now=datetime.now(UTC), tars_written=tars, fail_after=fail_after
    )
    kill_point("committed")
    mark_last_run(config, set(plan.stored.column("volume").to_pylist()), state.run_id)
    return tars, records


def replan(
    con: duckdb.DuckDBPyConnection, config: Config, state: RunState, batches: list[ArchiveBatch]
) -> list[ArchiveBatch]:
    """The catalog moved since planning (another run committed): plan again under the lock.

    Staged TARs whose series are still new, with the same instances, are kept; the others are
    discarded, and series the new plan needs that no kept TAR holds are staged now.
    """
    stored = stored_members(batches)
    planning = con.cursor()  # its own connection: detection's temp tables go with it
    try:
        plan_locked(planning, config, state)
    finally:
        planning.close()
    state.replanned = True
    new_rows = _new_rows(state)
    keep = reusable_tars(stored, new_rows)
    tars = [tar for batch in batches for tar in batch.staged]
    discard_all([ArchiveBatch([t for t in tars if t.relpath not in keep], Path())])
    kept_stored = stored.filter(_among(stored, "tar_path", keep))
    kept = ArchiveBatch([t for t in tars if t.relpath in keep], state.work / "replan-kept.parquet")
    pq.write_table(kept_stored, kept.stored_path)
    missing = pc.invert(
        pc.is_in(new_rows.column("sop_instance_uid"), kept_stored.column("sop_instance_uid"))
    )
    try:
        return [kept, *_stage_rows(config, state, new_rows.filter(missing))]
    except BaseException:
        discard_all([kept])
        raise


def _among(table: pa.Table, column: str, values: set[str]) -> pa.ChunkedArray:
    return pc.is_in(table.column(column), pa.array(sorted(values), pa.string()))


def _stage_rows(config: Config, state: RunState, rows: pa.Table) -> list[ArchiveBatch]:
    """Stage the TARs of new rows that no staged TAR holds (none, in the usual case)."""
    if not len(rows):
        return []
    path = state.work / "replan-new.parquet"
    pq.write_table(rows, path)
    return [stage_batch(state.drop, path, config.volumes, state.run_id, state.started_at.date())]


def reusable_tars(stored: pa.Table, new_rows: pa.Table) -> set[str]:
    """The staged TARs that hold exactly the new instances of one series (pure)."""
    wanted = {frozenset(s) for s in _groups(new_rows, "series_instance_uid").values()}
    return {tar for tar, sops in _groups(stored, "tar_path").items() if frozenset(sops) in wanted}


def _groups(table: pa.Table, key: str) -> dict[str, set[str]]:
    groups: dict[str, set[str]] = {}
    keys, sops = table.column(key).to_pylist(), table.column("sop_instance_uid").to_pylist()
    for value, sop in zip(keys, sops, strict=True):
        groups.setdefault(value, set()).add(sop)
    return groups


def _new_rows(state: RunState) -> pa.Table:
    """The manifest rows the (new) plan archives: its batch files together."""
    tables = [pq.read_table(path) for path in state.batch_paths]
    if tables:
        return pa.concat_tables(tables)
    return pq.read_schema(state.path("manifest")).empty_table()


def discard_pulled_objects(state: RunState) -> None:
    """Objects pulled from a PACS are in nearline once the run committed; keep the manifest."""
    if state.pulled:
        shutil.rmtree(state.drop / "objects", ignore_errors=True)


@task(name="commit-run", cache_policy=NO_CACHE, persist_result=False)
def commit_run_task(
    config: Config, state: RunState, batches: list[ArchiveBatch], wait: bool | float = True
) -> dict:
    """Re-plan if the catalog moved, publish TARs, then commit the run's catalog transaction."""
    return commit_run(config, state, batches, wait=wait)
