"""Flows that reconcile spokes: one spoke on demand, every configured spoke each night."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger
from prefect.futures import wait as wait_for

from flows.config import load_config
from tasks.archive import ArchiveBatch, archive_batch_task, discard_all
from tasks.reconcile import (
    commit_run_task,
    new_run,
    plan_run_task,
    pull_manifest_task,
    summary,
)
from tasks.reports import publish_artifacts, write_reports_task


class SpokesFailed(RuntimeError):
    """Some spokes of a nightly run failed; `results` holds every spoke's outcome."""

    def __init__(self, results: dict[str, dict]) -> None:
        self.results = results
        failed = sorted(s for s, r in results.items() if r["status"] == "failed")
        super().__init__(f"{len(failed)} of {len(results)} spokes failed: {', '.join(failed)}")


@flow(name="reconcile-spoke")
def reconcile_spoke(
    spoke: str,
    drop: str | None = None,
    dry_run: bool = False,
    config_file: str | None = None,
    wait: bool = True,
    allow_mass_delete: bool = False,
) -> dict:
    """Reconcile one spoke's drop against the catalog, archiving what is new."""
    logger = get_run_logger()
    config = load_config(Path(config_file) if config_file else None)
    state = new_run(config, spoke, Path(drop) if drop else None)
    state = pull_manifest_task(config, state, wait)
    state = plan_run_task(config, state, wait, allow_mass_delete)
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
            spoke,
            ", ".join(state.unsupplied),
        )
    if dry_run:
        return summary(state, status="dry_run")
    batches = archive_batches(config.volumes, state)
    result = commit_run_task(config, state, batches, wait)
    logger.info(
        "run %s committed: %d instances, %d TARs, %d bytes, %d cc records",
        state.run_id,
        state.new_instances,
        result["tars_written"],
        result["bytes_archived"],
        result["cc_records"],
    )
    reports = write_reports_task(config, result["run_id"], wait)
    publish_artifacts(reports[-1])
    return result


def archive_batches(volumes: list[Path], state) -> list[ArchiveBatch]:
    """Stage every batch in parallel; if one fails, discard what the others staged."""
    futures = [
        archive_batch_task.submit(state.drop, path, volumes, state.run_id, state.started_at.date())
        for path in state.batch_paths
    ]
    wait_for(futures)
    states = [f.state for f in futures]
    done = [s.result() for s in states if s.is_completed()]
    failed = [s for s in states if not s.is_completed()]
    if failed:
        discard_all(done)
        failed[0].result()  # raises the first batch's error
    return done


@flow(name="nightly-reconcile")
def nightly_reconcile(config_file: str | None = None, wait: bool = True) -> dict[str, dict]:
    """Reconcile every configured spoke; one failing spoke does not stop the others."""
    logger = get_run_logger()
    config = load_config(Path(config_file) if config_file else None)
    results: dict[str, dict] = {}
    for spoke in sorted(config.spokes):
        state = reconcile_spoke(spoke, config_file=str(config.file), wait=wait, return_state=True)
        if state.is_completed():
            results[spoke] = state.result()
        else:
            error = state.result(raise_on_failure=False)
            logger.error("spoke %s failed: %s", spoke, error)
            results[spoke] = {"spoke": spoke, "status": "failed", "error": str(error)}
    if any(r["status"] == "failed" for r in results.values()):
        raise SpokesFailed(results)
    return results
