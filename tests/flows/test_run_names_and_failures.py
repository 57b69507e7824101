"""Prefect runs say the spoke and the step (issue 18): `reconcile-north`, `pull-north`,
`archive-north-batch-1/1`; a spoke run that fails leaves a `failed` row with its reason in the
runs report and a Prefect artifact, and the reports of committed runs stay as they were."""

from __future__ import annotations

import asyncio

from prefect.artifacts import Artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from spokesync.flows.cli.reports import load_table
from spokesync.flows.reconcile import reconcile_spoke
from spokesync.tasks.reports.summary import artifact_key


def run_names(flow_run_id) -> tuple[str, set[str]]:
    async def read():
        async with get_client() as client:
            run = await client.read_flow_run(flow_run_id)
            tasks = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
            return run.name, {t.name for t in tasks}

    return asyncio.run(read())


def test_flow_and_task_runs_are_named_after_the_spoke_and_the_step(hub):
    state = reconcile_spoke("north", config_file=str(hub.file), return_state=True)
    assert state.result()["new_instances"] > 0
    flow_name, task_names = run_names(state.state_details.flow_run_id)
    assert flow_name == "reconcile-north"
    assert {"pull-north", "plan-north", "commit-north", "report-north"} <= task_names
    archives = {n for n in task_names if n.startswith("archive-north-batch-")}
    count = len(archives)
    assert count and archives == {f"archive-north-batch-{i}/{count}" for i in range(1, count + 1)}


def test_a_failed_spoke_run_is_in_the_runs_report_with_its_reason_and_an_artifact(hub, tmp_path):
    reconcile_spoke("north", config_file=str(hub.file))  # a committed run: reports exist
    missing = tmp_path / "no-such-drop"
    state = reconcile_spoke(
        "north", drop=str(missing), config_file=str(hub.file), return_state=True
    )
    assert state.is_failed()
    runs = load_table(hub.file, "runs", "north", None).to_pylist()
    failed = [r for r in runs if r["status"] == "failed"]
    assert len(failed) == 1 and len(runs) == 2
    assert failed[0]["error"].startswith("ManifestInvalid: ")
    assert str(missing) in failed[0]["error"]
    artifact = Artifact.get(artifact_key("north", "failed"))
    assert artifact is not None and "ManifestInvalid" in artifact.data
    pending = load_table(hub.file, "pending_review", None, None)
    assert pending.num_rows == 0  # the committed run's (empty) snapshot, not a missing one
