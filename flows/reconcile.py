"""Flows that reconcile spokes: one spoke on demand, every configured spoke each night."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.futures import PrefectFuture, as_completed
from prefect.futures import wait as wait_for

from spokesync.catalog import open_catalog
from spokesync.catalog.errors import CatalogLocked
from spokesync.catalog.faults import begin_commit, end_commit
from spokesync.catalog.runs import recorded_run_ids
from spokesync.flows.writer_limit import writer_limit_exists, writer_slot
from spokesync.tasks.config import Config, load_config
from spokesync.tasks.nearline.archive import ArchiveBatch, archive_batch_task, discard_all
from spokesync.tasks.nearline.hub_check import ensure_nearline
from spokesync.tasks.nearline.orphans import sweep_orphans
from spokesync.tasks.reconcile.commit import commit_run_task
from spokesync.tasks.reconcile.run import plan_run_task, pull_manifest_task
from spokesync.tasks.reconcile.state import RunState, new_run, summary
from spokesync.tasks.reports.failed_runs import failure_text, record_failure
from spokesync.tasks.reports.summary import publish_artifacts
from spokesync.tasks.reports.tables import write_reports_task


def nightly_run_name() -> str:
    """`nightly-2026-12-03`: the night it reconciles, in the Prefect UI and logs."""
    return f"nightly-{datetime.now(UTC):%Y-%m-%d}"


class SpokesFailed(RuntimeError):
    """Some spokes of a nightly run failed; `results` holds every spoke's outcome."""

    def __init__(self, results: dict[str, dict]) -> None:
        self.results = results
        failed = sorted(s for s, r in results.items() if r["status"] == "failed")
        super().__init__(f"{len(failed)} of {len(results)} spokes failed: {', '.join(failed)}")


@flow(name="reconcile-spoke", flow_run_name="reconcile-{spoke}")
def reconcile_spoke(
    spoke: str,
    drop: str | None = None,
    dry_run: bool = False,
    config_file: str | None = None,
    wait: bool = True,
    allow_mass_delete: bool = False,
) -> dict:
    """Reconcile one spoke's drop against the catalog, archiving what is new; a failure is
    recorded in the runs report and as an artifact, then raised."""
    config = load_config(Path(config_file) if config_file else None)
    started = datetime.now(UTC)
    try:
        return _reconcile(config, spoke, drop, dry_run, wait, allow_mass_delete)
    except Exception as exc:
        record_failure(config, spoke, started, failure_text(exc))
        raise


def _reconcile(
    config: Config, spoke: str, drop: str | None, dry_run: bool, wait: bool, allow: bool
) -> dict:
    if not dry_run:
        sweep_at_start(config)
    state = new_run(config, spoke, Path(drop) if drop else None)
    state = pull_manifest_task.with_options(task_run_name=f"pull-{spoke}")(config, state, wait)
    with writer_slot():
        state = plan_run_task.with_options(task_run_name=f"plan-{spoke}")(
            config, state, wait, allow
        )
    log_plan(state)
    if dry_run:
        return summary(state, status="dry_run")
    return commit_and_report(config, state, submit_batches(config, state), wait)


def sweep_at_start(config: Config) -> None:
    """Handle what stopped runs left in nearline now, not only at this run's commit (which a
    failing pull never reaches); a busy catalog's writer sweeps at its own commit."""
    try:
        with open_catalog(config.catalog, wait=False) as con:
            # A mistyped catalog path or a restored backup knows none of nearline's runs: the
            # hub check stops the run before the sweep could take their TARs for orphans.
            ensure_nearline(con, config)
            sweep_orphans(config.work, config.volumes, recorded_run_ids(con), current="")
    except CatalogLocked:
        get_run_logger().info("catalog busy: its writer sweeps orphan files at its commit")


def log_plan(state: RunState) -> None:
    """What the plan found, in counts (and the manifest columns a PACS left out)."""
    logger = get_run_logger()
    logger.info(
        "%s: planned %d %s (%d new objects, %d records)",
        state.spoke,
        len(state.batch_paths),
        "batch" if len(state.batch_paths) == 1 else "batches",
        state.new_instances,
        sum(state.kinds.values()),
    )
    logger.info(
        "run %s: %d manifest rows (%d objects fetched from the spoke), plan %s, "
        "%d new instances in %d batches",
        state.run_id,
        state.manifest_rows,
        state.fetched,
        state.kinds or "{}",
        state.new_instances,
        len(state.batch_paths),
    )
    if state.unsupplied:
        logger.warning(
            "spoke %s does not return %s: filled from the objects and the catalog, so changes "
            "to them are not seen from this spoke",
            state.spoke,
            ", ".join(state.unsupplied),
        )


def submit_batches(config: Config, state: RunState) -> list[PrefectFuture]:
    """Start staging every batch of the run's new objects (in parallel, outside the lock)."""
    day, count = state.started_at.date(), len(state.batch_paths)
    return [
        archive_batch_task.with_options(
            task_run_name=f"archive-{state.spoke}-batch-{number}/{count}"
        ).submit(state.drop, path, config.volumes, state.run_id, day)
        for number, path in enumerate(state.batch_paths, 1)
    ]


def archived(spoke: str, futures: list[PrefectFuture]) -> list[ArchiveBatch]:
    """Wait for a run's batches, saying `north: batch 2/3 archived` as each ends; if one
    failed, discard what the others staged."""
    logger = get_run_logger()
    for number, future in enumerate(as_completed(futures), 1):
        failed = isinstance(future.result(raise_on_failure=False), BaseException)
        outcome = "failed" if failed else "archived"  # not .state: the API may lag behind
        logger.info("%s: batch %d/%d %s", spoke, number, len(futures), outcome)
    wait_for(futures)
    states = [f.state for f in futures]
    done = [s.result() for s in states if s.is_completed()]
    failed = [s for s in states if not s.is_completed()]
    if failed:
        discard_all(done)
        failed[0].result()  # raises the first batch's error
    return done


def commit_and_report(
    config: Config, state: RunState, futures: list[PrefectFuture], wait: bool
) -> dict:
    """Commit the run once its batches are staged, then write and publish its reports."""
    begin_commit(state.run_id)  # what a Ctrl-C says depends on whether this commit went through
    try:
        commit = commit_run_task.with_options(task_run_name=f"commit-{state.spoke}")
        batches = archived(state.spoke, futures)
        with writer_slot():
            result = commit(config, state, batches, wait)
    finally:
        end_commit()
    get_run_logger().info(
        "%s: committed (%d new objects, %d records): run %s, %d TARs, %d bytes%s",
        state.spoke,
        result["new_instances"],
        result["cc_records"],
        state.run_id,
        result["tars_written"],
        result["bytes_archived"],
        " (re-planned: another run committed first)" if result["replanned"] else "",
    )
    report = write_reports_task.with_options(task_run_name=f"report-{state.spoke}")
    reports = report(config, result["run_id"], wait)
    publish_artifacts(reports[-1])
    return result


@flow(name="nightly-reconcile", flow_run_name=nightly_run_name)
def nightly_reconcile(config_file: str | None = None, wait: bool = True) -> dict[str, dict]:
    """Reconcile every configured spoke; one failing spoke does not stop the others.

    Pulls run in parallel; plans and commits run one at a time in this flow (and queue on the
    catalog lock and, where the server has it, the catalog-writer limit); each spoke's batches
    are staged while the next spokes plan. Before each plan, spokes whose batches are all staged
    commit, so a quiet night plans every spoke once; a commit that finds the catalog moved
    re-plans under the lock.
    """
    config = load_config(Path(config_file) if config_file else None)
    started = datetime.now(UTC)
    sweep_at_start(config)
    results: dict[str, dict] = {}
    pulls = {
        spoke: _guarded(results, spoke, partial(_start_pull, config, spoke, wait))
        for spoke in sorted(config.spokes)
    }
    writer_limit_exists()  # asked once, while the pulls run
    staging: dict[str, tuple[RunState, list[PrefectFuture]]] = {}
    for spoke, pull in pulls.items():
        _commit_staged(config, staging, results, wait, only_ready=True)
        if pull is not None:
            staged = _guarded(results, spoke, partial(_plan_and_stage, config, pull, wait))
            if staged is not None:
                staging[spoke] = staged
    _commit_staged(config, staging, results, wait, only_ready=False)
    failed = {spoke: r for spoke, r in results.items() if r["status"] == "failed"}
    for spoke, r in sorted(failed.items()):
        record_failure(config, spoke, started, r["reason"])
    if failed:
        raise SpokesFailed(results)
    return dict(sorted(results.items()))


def _commit_staged(
    config: Config, staging: dict, results: dict[str, dict], wait: bool, *, only_ready: bool
) -> None:
    """Commit the staged spokes (only those whose batches all finished, if `only_ready`)."""
    for spoke, (state, futures) in list(staging.items()):
        if only_ready and not all(f.state.is_final() for f in futures):
            continue
        del staging[spoke]
        result = _guarded(results, spoke, partial(commit_and_report, config, state, futures, wait))
        if result is not None:
            results[spoke] = result


def _start_pull(config: Config, spoke: str, wait: bool) -> PrefectFuture:
    pull = pull_manifest_task.with_options(task_run_name=f"pull-{spoke}")
    return pull.submit(config, new_run(config, spoke), wait)


def _plan_and_stage(
    config: Config, pull: PrefectFuture, wait: bool
) -> tuple[RunState, list[PrefectFuture]]:
    state = pull.result()
    with writer_slot():
        state = plan_run_task.with_options(task_run_name=f"plan-{state.spoke}")(config, state, wait)
    log_plan(state)
    return state, submit_batches(config, state)


def _guarded(results: dict[str, dict], spoke: str, step):
    """Run one spoke's step; a failure is that spoke's outcome, never the other spokes'."""
    try:
        return step()
    except Exception as exc:
        get_run_logger().error("spoke %s failed: %s", spoke, exc)
        results[spoke] = {
            "spoke": spoke, "status": "failed", "error": str(exc), "reason": failure_text(exc)
        }  # fmt: skip
        return None
