"""The reconcile-spoke flow pulling a real Orthanc, its credentials in a Prefect Secret block."""

from __future__ import annotations

import pytest
from prefect.blocks.system import Secret

from spokesync.catalog.errors import ConfigInvalid
from spokesync.flows.reconcile import reconcile_spoke
from tests.support.orthanc import PASSWORD, USER
from tests.support.pacs import PACS_INSTANCES, pacs_hub

pytestmark = pytest.mark.flows
NO_ENV = {"username_env": None, "password_env": None}


def test_the_flow_pulls_a_pacs_whose_credentials_live_in_a_secret_block(orthanc_north, tmp_path):
    Secret(value={"username": USER, "password": PASSWORD}).save("north-pacs", overwrite=True)
    config = pacs_hub(tmp_path / "hub", orthanc_north, "dicomweb", secret_block="north-pacs",
                      **NO_ENV)  # fmt: skip

    result = reconcile_spoke("north", config_file=str(config.file))

    assert (result["status"], result["fetched"]) == ("committed", PACS_INSTANCES)
    assert result["kinds"] == {"NEW_OBJECTS": 3}


def test_a_missing_secret_block_is_named_and_not_retried(orthanc, tmp_path):
    config = pacs_hub(tmp_path / "hub", orthanc, "dicomweb", secret_block="no-such-block", **NO_ENV)

    state = reconcile_spoke("north", config_file=str(config.file), return_state=True)

    error = state.result(raise_on_failure=False)
    assert isinstance(error, ConfigInvalid) and "no-such-block" in str(error)
    assert task_run_counts(state.state_details.flow_run_id) == {"pull": 1}  # pull-north


def task_run_counts(flow_run_id) -> dict[str, int]:
    """How often each task of a flow run ran (1 = never retried)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
    return {run.name.rsplit("-", 1)[0]: run.run_count for run in runs}
