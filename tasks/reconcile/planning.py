"""Planning a run against the catalog: detect what changed and write the plan, change nothing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from spokesync.catalog import open_catalog
from spokesync.catalog.apply import catalog_version
from spokesync.catalog.detect import Incomplete
from spokesync.catalog.errors import ManifestInvalid, MassDeletionBlocked
from spokesync.catalog.runs import last_generated_at
from spokesync.catalog.vocabulary import Status
from spokesync.tasks.nearline.archive import series_batches
from spokesync.tasks.nearline.hub_check import ensure_nearline
from spokesync.tasks.reconcile.plan_tables import build_plan
from spokesync.tasks.reconcile.state import BATCH_NAME, PLAN_FILES, RunState, timed

if TYPE_CHECKING:
    import duckdb

    from spokesync.tasks.config import Config, Policies


def plan_run(
    config: Config, state: RunState, *, wait: bool | float = True, allow_mass_delete: bool = False
) -> RunState:
    """Detect what changed against the catalog and write the plan; nothing is changed.

    DuckDB reads the staged manifest file itself: the plan never holds the manifest in memory.
    """
    state.allow_mass_delete = allow_mass_delete
    with open_catalog(config.catalog, wait=wait) as con, timed(state, "plan"):
        return plan_locked(con, config, state)


def plan_locked(con: duckdb.DuckDBPyConnection, config: Config, state: RunState) -> RunState:
    """Plan on a catalog connection the caller holds (under the writer lock), at its version."""
    manifest = state.path("manifest")
    deletions_path = state.path("deletions")
    deletions = pq.read_table(deletions_path) if deletions_path.exists() else None
    ensure_nearline(con, config)  # a volume not mounted or a stale catalog stops the run here
    refuse_stale(con, state)
    state.version = catalog_version(con)
    plan = build_plan(
        con,
        manifest,
        deletions,
        spoke=state.spoke,
        ownership=config.policies.ownership,
        domain=state.patient_domain or state.spoke,
        deletions_file=str(Path(state.drop) / "deletions.parquet"),
        reidentified_study=config.policies.reidentified_study,
        incomplete=Incomplete(state.incomplete_studies, placed=not state.cannot_delete),
    )
    guard(plan.deleting, plan.in_scope, config.policies, state.allow_mass_delete)
    for name in PLAN_FILES:
        pq.write_table(getattr(plan, name), state.path(name))
    state.deleting = plan.deleting
    state.kinds = _kinds(plan.records)
    _write_batches(config, state, manifest, plan.members, plan.records)
    return state


def guard(deleting: int, in_scope: int, policies: Policies, allowed: bool) -> None:
    """No silent mass deletion (DESIGN §4 rule 4)."""
    if allowed or deleting <= policies.min_delete_guard:
        return
    if deleting > policies.max_delete_count or deleting > policies.max_delete_fraction * in_scope:
        limit = (
            f"max_delete_fraction {policies.max_delete_fraction:.0%} of {in_scope}, "
            f"max_delete_count {policies.max_delete_count}"
        )
        raise MassDeletionBlocked(deleting, in_scope, limit)


def _kinds(records: pa.Table) -> dict[str, int]:
    counts: dict[str, int] = {}
    for kind in records.column("kind").to_pylist():
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def _write_batches(
    config: Config, state: RunState, manifest: Path, members: pa.Table, records: pa.Table
) -> None:
    """The manifest rows of new objects that apply now, in batches of whole series."""
    applied = records.filter(pc.equal(records.column("status"), Status.APPLIED.value)).column("rec")
    new = members.filter(
        pc.and_(pc.equal(members.column("role"), "new"), pc.is_in(members.column("rec"), applied))
    )
    new_ids = pc.unique(new.column("row_id")).to_pylist()
    rows = pq.read_table(manifest, filters=[("row_id", "in", new_ids)]) if new_ids else None
    new_rows = rows if rows is not None else pq.read_schema(manifest).empty_table()
    state.new_instances = len(new_rows)
    state.batch_paths = []
    for number, batch in enumerate(
        series_batches(new_rows, config.policies.archive_batch_series), start=1
    ):
        path = state.work / BATCH_NAME.format(number)
        pq.write_table(batch, path)
        state.batch_paths.append(path)


def refuse_stale(con, state: RunState) -> None:
    """Spokes' manifests apply in order: one older than the last applied is refused."""
    last = last_generated_at(con, state.spoke)
    if last is not None and state.generated_at is not None and state.generated_at < last:
        raise ManifestInvalid(
            str(state.drop / "manifest.json"),
            f"generated_at {state.generated_at.isoformat()} is older than the manifest last "
            f"applied for spoke {state.spoke} ({last.isoformat()})",
            column="generated_at",
            fix="manifests apply in order; send the spoke's current manifest",
        )
