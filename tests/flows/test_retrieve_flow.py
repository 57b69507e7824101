"""The retrieve-study flow delivers a study and fails its run when an object could not go."""

from __future__ import annotations

import simulator as sim
from spokesync.flows.retrieve import RetrieveIncomplete, retrieve_study_flow
from spokesync.tasks.reconcile.run import run_spoke
from spokesync.tasks.retrieve.plan import plan_study


def test_retrieve_study_flow_writes_every_instance_to_the_folder(hub, tmp_path):
    run_spoke(hub, "north")
    study = sim.study_uids(sim.manifest_of(hub.spokes["north"].drop))[0]
    result = retrieve_study_flow(study, out=str(tmp_path / "out"), config_file=str(hub.file))
    files = list((tmp_path / "out").rglob("*.dcm"))
    assert result["sent"] == result["instances"] == len(files) > 0 and not result["resolved"]


def test_retrieve_study_flow_run_fails_naming_the_object_that_did_not_go(hub, tmp_path):
    run_spoke(hub, "north")
    study = sim.study_uids(sim.manifest_of(hub.spokes["north"].drop))[0]
    victim = plan_study(hub, study).instances[0]
    tar = hub.volumes[0] / victim.tar_path
    tar.chmod(0o644)
    data = bytearray(tar.read_bytes())
    data[victim.data_offset + 200] ^= 0xFF
    tar.write_bytes(bytes(data))
    state = retrieve_study_flow(
        study, out=str(tmp_path / "out"), config_file=str(hub.file), return_state=True
    )
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, RetrieveIncomplete) and victim.sop_instance_uid in str(error)
    assert error.result["sent"] == error.result["instances"] - 1
