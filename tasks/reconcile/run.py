"""One run of one spoke, step by step: stage the manifest, plan, archive, commit.

The steps live in tasks/reconcile/state.py, tasks/reconcile/planning.py and
tasks/reconcile/commit.py; this module stages the drop, runs them in order without Prefect
(run_spoke) and wraps them as tasks.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.parquet as pq
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from spokesync.catalog.errors import ConfigInvalid, ManifestInvalid, ObjectRefused, SpokeUnavailable
from spokesync.tasks.manifest.drop_read import drop_folder, read_deletions, read_meta, read_rejected
from spokesync.tasks.manifest.stage import stage_manifest_file
from spokesync.tasks.nearline.archive import ArchiveBatch, discard_all, stage_batch
from spokesync.tasks.reconcile.commit import commit_run, commit_run_task, load_plan
from spokesync.tasks.reconcile.planning import guard, plan_run, refuse_stale
from spokesync.tasks.reconcile.state import RunState, new_run, summary, timed
from spokesync.tasks.spokes.hub import pull_spoke

if TYPE_CHECKING:
    from spokesync.tasks.config import Config

__all__ = [  # the steps, importable from here as before the split
    "RunState",
    "commit_run",
    "commit_run_task",
    "guard",
    "load_plan",
    "new_run",
    "plan_run",
    "refuse_stale",
    "summary",
]


def pull_and_stage(config: Config, state: RunState, *, wait: bool | float = True) -> RunState:
    """A PACS spoke is listed and its new objects fetched first; then the drop is staged."""
    with timed(state, "stage"):
        if state.pulled:
            pulled = pull_spoke(config, state.spoke, state.drop, wait=wait)
            state.fetched, state.unsupplied = pulled.fetched, pulled.unsupplied
        return stage_manifest(state)


def stage_manifest(state: RunState) -> RunState:
    """Validate the drop; keep its manifest (with row ids) and deletions as Parquet.

    The manifest is checked and staged part by part (tasks/manifest/stage.py), never whole.
    """
    drop = drop_folder(state.drop)
    state.generated_at = read_meta(drop / "manifest.json", state.spoke)
    state.manifest_rows = stage_manifest_file(drop, state.path("manifest"))
    deletions = read_deletions(drop / "deletions.parquet")
    if deletions is not None:
        pq.write_table(deletions, state.path("deletions"))
    rejected = read_rejected(drop)  # objects the spoke holds that the hub could not read
    state.incomplete_studies = tuple(sorted(rejected.incomplete_studies))
    state.cannot_delete = rejected.cannot_delete
    return state


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
    persist_result=False,
    retries=3,
    retry_delay_seconds=exponential_backoff(backoff_factor=10),
    retry_jitter_factor=0.5,
    retry_condition_fn=worth_retrying,
)
def pull_manifest_task(config: Config, state: RunState, wait: bool | float = True) -> RunState:
    """Pull a PACS spoke or read a drop, then validate and stage it (I/O: retried with backoff)."""
    return pull_and_stage(config, state, wait=wait)


@task(name="plan-run", cache_policy=NO_CACHE, persist_result=False)
def plan_run_task(
    config: Config, state: RunState, wait: bool | float = True, allow_mass_delete: bool = False
) -> RunState:
    """Compare the manifest with the catalog (detection: never retried)."""
    return plan_run(config, state, wait=wait, allow_mass_delete=allow_mass_delete)
