"""prefect.yaml's nightly schedule follows the configuration."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from spokesync.flows.schedule import apply_schedule, schedule_message
from spokesync.tasks.config import Schedule

ROOT = Path(__file__).resolve().parents[2]


def test_schedule_is_copied_into_prefect_yaml_keeping_comments(tmp_path):
    target = tmp_path / "prefect.yaml"
    shutil.copy(ROOT / "prefect.yaml", target)
    assert apply_schedule(target, Schedule(cron="30 1 * * *", timezone="Europe/Brussels"))
    document = yaml.safe_load(target.read_text())
    nightly = next(d for d in document["deployments"] if d["name"] == "nightly")
    assert nightly["schedules"][0] == {
        "cron": "30 1 * * *",
        "timezone": "Europe/Brussels",
        "active": True,
    }
    assert target.read_text().startswith("# Prefect deployments of spokesync")
    assert not apply_schedule(target, Schedule(cron="30 1 * * *", timezone="Europe/Brussels"))


def test_prefect_yaml_entrypoints_exist():
    document = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    for deployment in document["deployments"]:
        module, name = deployment["entrypoint"].split(":")
        assert f"def {name}(" in (ROOT / module).read_text()


def test_schedule_message_says_to_redeploy_only_when_prefect_yaml_changed(tmp_path):
    schedule = Schedule(cron="30 1 * * *", timezone="UTC")
    changed = schedule_message(tmp_path / "prefect.yaml", schedule, changed=True)
    same = schedule_message(tmp_path / "prefect.yaml", schedule, changed=False)
    assert "updated" in changed and "prefect deploy --all" in changed
    assert "already up to date" in same and "deploy" not in same


def test_every_deployment_gives_its_runs_the_hubs_configuration():
    document = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    for deployment in document["deployments"]:
        env = deployment["work_pool"]["job_variables"]["env"]
        assert env == {
            "SPOKESYNC_CONFIG": "{{ $SPOKESYNC_CONFIG }}",
            "SPOKESYNC_HOME": "{{ $SPOKESYNC_HOME }}",
        }, deployment["name"]
