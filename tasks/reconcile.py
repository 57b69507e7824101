"""One run of one spoke, step by step: stage the manifest, plan, archive, commit."""

from __future__ import annotations

import secrets
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq
from prefect import task
from prefect.cache_policies import NO_CACHE

from catalog import open_catalog
from catalog.archive import RunRecord, insert_run, new_manifest_rows, record_archive
from catalog.errors import ManifestInvalid
from catalog.runs import last_generated_at
from tasks.archive import ArchiveBatch, discard_all, publish_all, series_batches, stage_batch
from tasks.manifests import read_drop
from tasks.plan import new_object_plan

if TYPE_CHECKING:
    from flows.config import Config


@dataclass
class RunState:
    """What the steps of one run hand to each other: small values and Parquet paths."""

    run_id: str
    spoke: str
    drop: Path
    work: Path
    started_at: datetime
    generated_at: datetime | None = None
    manifest_rows: int = 0
    new_instances: int = 0
    plan_path: Path | None = None
    batch_paths: list[Path] = field(default_factory=list)

    def record(self) -> RunRecord:
        return RunRecord(
            self.run_id,
            self.spoke,
            self.started_at,
            self.generated_at,
            str(self.drop),
            self.manifest_rows,
        )


def new_run(config: Config, spoke: str, drop: Path | None = None) -> RunState:
    """Name the run and make its work folder; the drop defaults to the configured one."""
    source = config.spoke(spoke)
    drop = Path(drop) if drop else source.drop
    if drop is None:
        raise ManifestInvalid(
            str(config.file),
            f"spoke {spoke!r} has no drop folder",
            fix="pass --drop or set spokes.<id>.drop",
        )
    now = datetime.now(UTC)
    run_id = f"{spoke}-{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    work = config.work / run_id
    work.mkdir(parents=True, exist_ok=True)
    return RunState(run_id, spoke, drop, work, now)


def stage_manifest(state: RunState) -> RunState:
    """Read and validate the drop, then keep its manifest as Parquet in the run's work folder."""
    drop = read_drop(state.drop, state.spoke)
    pq.write_table(drop.manifest, state.work / "manifest.parquet")
    state.generated_at = drop.generated_at
    state.manifest_rows = len(drop.manifest)
    return state


def plan_run(config: Config, state: RunState, *, wait: bool | float = True) -> RunState:
    """Find what is new against the catalog, refuse stale manifests, write the plan."""
    manifest = pq.read_table(state.work / "manifest.parquet")
    with open_catalog(config.catalog, wait=wait) as con:
        refuse_stale(con, state)
        new_rows = new_manifest_rows(con, manifest)
    state.new_instances = len(new_rows)
    batches = series_batches(new_rows, config.policies.archive_batch_series)
    state.batch_paths = []
    for number, batch in enumerate(batches, start=1):
        path = state.work / f"new-{number:05d}.parquet"
        pq.write_table(batch, path)
        state.batch_paths.append(path)
    state.plan_path = state.work / "plan.parquet"
    pq.write_table(new_object_plan(new_rows), state.plan_path)
    return state


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


def commit_run(
    config: Config, state: RunState, batches: list[ArchiveBatch], *, wait: bool | float = True
) -> dict:
    """Under the writer lock: publish the staged TARs, then one catalog transaction."""
    stored = _concat([pq.read_table(b.stored_path) for b in batches])
    new_rows = _concat([pq.read_table(p) for p in state.batch_paths])
    with ExitStack() as stack:
        try:
            con = stack.enter_context(open_catalog(config.catalog, wait=wait))
        except BaseException:
            discard_all(batches)  # nothing was published yet: leave nearline as it was
            raise
        tars = publish_all(batches)
        now = datetime.now(UTC)
        if len(stored):
            records = record_archive(
                con, state.record(), new_rows, stored, now=now, tars_written=tars
            )
        else:
            insert_run(con, state.record(), now=now, status="committed")
            records = 0
    return summary(
        state,
        status="committed",
        tars=tars,
        records=records,
        bytes_archived=sum(stored.column("size").to_pylist()) if len(stored) else 0,
    )


def run_spoke(
    config: Config,
    spoke: str,
    *,
    drop: Path | None = None,
    dry_run: bool = False,
    wait: bool | float = True,
) -> dict:
    """The reconcile-spoke flow's steps called directly, without Prefect (tests, benchmarks)."""
    state = plan_run(config, stage_manifest(new_run(config, spoke, drop)), wait=wait)
    if dry_run:
        return summary(state, status="dry_run")
    batches: list[ArchiveBatch] = []
    try:
        for path in state.batch_paths:
            batches.append(
                stage_batch(state.drop, path, config.volumes, state.run_id, state.started_at.date())
            )
    except BaseException:
        discard_all(batches)
        raise
    return commit_run(config, state, batches, wait=wait)


def summary(
    state: RunState, *, status: str, tars: int = 0, records: int = 0, bytes_archived: int = 0
) -> dict:
    """The run's outcome in counts and UIDs only (never demographics)."""
    return {
        "run_id": state.run_id,
        "spoke": state.spoke,
        "status": status,
        "manifest_rows": state.manifest_rows,
        "new_instances": state.new_instances,
        "tars_written": tars,
        "bytes_archived": bytes_archived,
        "cc_records": records,
        "plan": str(state.plan_path) if state.plan_path else None,
    }


def _concat(tables: list[pa.Table]) -> pa.Table:
    tables = [t for t in tables if t is not None]
    if not tables:
        return pa.table({})
    return pa.concat_tables(tables)


@task(name="pull-manifest", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30])
def pull_manifest_task(state: RunState) -> RunState:
    """Read the spoke's drop (I/O: retried)."""
    return stage_manifest(state)


@task(name="plan-run", cache_policy=NO_CACHE)
def plan_run_task(config: Config, state: RunState, wait: bool | float = True) -> RunState:
    """Compare the manifest with the catalog (detection: never retried)."""
    return plan_run(config, state, wait=wait)


@task(name="commit-run", cache_policy=NO_CACHE)
def commit_run_task(
    config: Config, state: RunState, batches: list[ArchiveBatch], wait: bool | float = True
) -> dict:
    """Publish TARs, then commit the run's catalog transaction."""
    return commit_run(config, state, batches, wait=wait)
