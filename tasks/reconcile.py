"""One run of one spoke, step by step: stage the manifest, plan, archive, commit."""

from __future__ import annotations

import secrets
import shutil
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from catalog import open_catalog
from catalog.apply import PlanTables, RunRecord, apply_plan, catalog_version
from catalog.errors import (
    CatalogChanged,
    ConfigInvalid,
    ManifestInvalid,
    MassDeletionBlocked,
    ObjectRefused,
    SpokeUnavailable,
)
from catalog.runs import last_generated_at
from tasks.archive import (
    STORED_SCHEMA,
    ArchiveBatch,
    discard_all,
    publish_all,
    series_batches,
    stage_batch,
)
from tasks.manifests import read_drop
from tasks.plan import build_plan
from tasks.spokes.hub import is_pacs, pull_spoke

if TYPE_CHECKING:
    from flows.config import Config, Policies

PLAN_FILES = ("records", "members", "attributes", "stale")


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
    deleting: int = 0
    version: tuple[int, int] | None = None
    kinds: dict[str, int] = field(default_factory=dict)
    batch_paths: list[Path] = field(default_factory=list)
    pulled: bool = False  # a PACS spoke: the drop is pulled into the work folder by this run
    fetched: int = 0  # objects downloaded from the PACS (a quiet night fetches none)
    unsupplied: tuple[str, ...] = ()  # manifest columns the PACS did not return

    def record(self) -> RunRecord:
        return RunRecord(
            self.run_id,
            self.spoke,
            self.started_at,
            self.generated_at,
            str(self.drop),
            self.manifest_rows,
        )

    def path(self, name: str) -> Path:
        return self.work / f"{name}.parquet"


def new_run(config: Config, spoke: str, drop: Path | None = None) -> RunState:
    """Name the run and make its work folder; the drop defaults to the configured one.

    A PACS spoke's drop is pulled into the work folder by pull_and_stage.
    """
    source = config.spoke(spoke)
    pulled = drop is None and is_pacs(source)
    drop = Path(drop) if drop else source.drop
    if drop is None and not pulled:
        raise ManifestInvalid(
            str(config.file),
            f"spoke {spoke!r} has no drop folder",
            fix="pass --drop or set spokes.<id>.drop",
        )
    now = datetime.now(UTC)
    run_id = f"{spoke}-{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    work = config.work / run_id
    work.mkdir(parents=True, exist_ok=True)
    return RunState(run_id, spoke, work / "drop" if pulled else drop, work, now, pulled=pulled)


def pull_and_stage(config: Config, state: RunState, *, wait: bool | float = True) -> RunState:
    """A PACS spoke is listed and its new objects fetched first; then the drop is staged."""
    if state.pulled:
        pulled = pull_spoke(config, state.spoke, state.drop, wait=wait)
        state.fetched, state.unsupplied = pulled.fetched, pulled.unsupplied
    return stage_manifest(state)


def stage_manifest(state: RunState) -> RunState:
    """Read and validate the drop; keep its manifest (with row ids) and deletions as Parquet."""
    drop = read_drop(state.drop, state.spoke)
    row_ids = pa.array(np.arange(len(drop.manifest), dtype=np.int64))  # not a Python range
    manifest = drop.manifest.append_column("row_id", row_ids)
    pq.write_table(manifest, state.path("manifest"), row_group_size=122_880)
    if drop.deletions is not None:
        pq.write_table(drop.deletions, state.path("deletions"))
    state.generated_at = drop.generated_at
    state.manifest_rows = len(drop.manifest)
    return state


def plan_run(
    config: Config, state: RunState, *, wait: bool | float = True, allow_mass_delete: bool = False
) -> RunState:
    """Detect what changed against the catalog and write the plan; nothing is changed.

    DuckDB reads the staged manifest file itself: the plan never holds the manifest in memory.
    """
    manifest = state.path("manifest")
    deletions_path = state.path("deletions")
    deletions = pq.read_table(deletions_path) if deletions_path.exists() else None
    with open_catalog(config.catalog, wait=wait) as con:
        refuse_stale(con, state)
        state.version = catalog_version(con)
        plan = build_plan(
            con, manifest, deletions, spoke=state.spoke, ownership=config.policies.ownership
        )
    guard(plan.deleting, plan.in_scope, config.policies, allow_mass_delete)
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
    applied = records.filter(pc.equal(records.column("status"), "applied")).column("rec")
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
        path = state.work / f"new-{number:05d}.parquet"
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


def load_plan(state: RunState, batches: list[ArchiveBatch]) -> PlanTables:
    stored = [pq.read_table(b.stored_path) for b in batches]
    tables = {name: pq.read_table(state.path(name)) for name in PLAN_FILES}
    return PlanTables(
        state.path("manifest"),  # read by DuckDB where the commit joins it
        tables["records"],
        tables["members"],
        tables["attributes"],
        pa.concat_tables(stored) if stored else STORED_SCHEMA.empty_table(),
        tables["stale"],
    )


def commit_run(
    config: Config,
    state: RunState,
    batches: list[ArchiveBatch],
    *,
    wait: bool | float = True,
    fail_after: str | None = None,
) -> dict:
    """Under the writer lock: check the plan is current, publish TARs, apply in one transaction."""
    plan = load_plan(state, batches)
    with ExitStack() as stack:
        try:
            con = stack.enter_context(open_catalog(config.catalog, wait=wait))
            if catalog_version(con) != state.version:
                raise CatalogChanged(state.spoke)
        except BaseException:
            discard_all(batches)  # nothing was published yet: leave nearline as it was
            raise
        tars = publish_all(batches)
        records = apply_plan(
            con,
            state.record(),
            plan,
            now=datetime.now(UTC),
            tars_written=tars,
            fail_after=fail_after,
        )
    discard_pulled_objects(state)
    return summary(
        state,
        status="committed",
        tars=tars,
        records=records,
        bytes_archived=sum(plan.stored.column("size").to_pylist()),
    )


def discard_pulled_objects(state: RunState) -> None:
    """Objects pulled from a PACS are in nearline once the run committed; keep the manifest."""
    if state.pulled:
        shutil.rmtree(state.drop / "objects", ignore_errors=True)


def run_spoke(
    config: Config,
    spoke: str,
    *,
    drop: Path | None = None,
    dry_run: bool = False,
    wait: bool | float = True,
    allow_mass_delete: bool = False,
    fail_after: str | None = None,
) -> dict:
    """The reconcile-spoke flow's steps called directly, without Prefect (tests, benchmarks)."""
    state = pull_and_stage(config, new_run(config, spoke, drop), wait=wait)
    state = plan_run(config, state, wait=wait, allow_mass_delete=allow_mass_delete)
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
    return commit_run(config, state, batches, wait=wait, fail_after=fail_after)


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
        "fetched": state.fetched,
        "deleting": state.deleting,
        "kinds": dict(state.kinds),
        "tars_written": tars,
        "bytes_archived": bytes_archived,
        "cc_records": records,
        "plan": str(state.path("records")),
    }


def worth_retrying(task, task_run, state) -> bool:
    """Retry what may pass later (an unreachable spoke); never bad input or refused credentials."""
    try:
        state.result()
    except SpokeUnavailable as exc:
        return exc.retryable
    except (ManifestInvalid, ConfigInvalid, ObjectRefused):
        return False
    except Exception:
        return True
    return True


@task(
    name="pull-manifest",
    cache_policy=NO_CACHE,
    retries=3,
    retry_delay_seconds=exponential_backoff(backoff_factor=10),
    retry_jitter_factor=0.5,
    retry_condition_fn=worth_retrying,
)
def pull_manifest_task(config: Config, state: RunState, wait: bool | float = True) -> RunState:
    """Pull a PACS spoke or read a drop, then validate and stage it (I/O: retried with backoff)."""
    return pull_and_stage(config, state, wait=wait)


@task(name="plan-run", cache_policy=NO_CACHE, tags=["catalog-writer"])
def plan_run_task(
    config: Config, state: RunState, wait: bool | float = True, allow_mass_delete: bool = False
) -> RunState:
    """Compare the manifest with the catalog (detection: never retried)."""
    return plan_run(config, state, wait=wait, allow_mass_delete=allow_mass_delete)


@task(name="commit-run", cache_policy=NO_CACHE, tags=["catalog-writer"])
def commit_run_task(
    config: Config, state: RunState, batches: list[ArchiveBatch], wait: bool | float = True
) -> dict:
    """Publish TARs, then commit the run's catalog transaction."""
    return commit_run(config, state, batches, wait=wait)
