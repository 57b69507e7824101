"""The README's "Prefect deployments" section, run for real: a Prefect server on 127.0.0.1, a
process work pool, `prefect deploy --all`, a process worker and `prefect deployment run` of the
on-demand reconcile and the nightly, each as its own process, the way an administrator types
them. The worker's own environment lacks SPOKESYNC_CONFIG and SPOKESYNC_HOME and runs outside
the checkout: the flow runs see the hub only through prefect.yaml's `job_variables.env`.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from spokesync.catalog import open_catalog
from spokesync.catalog.nearline import spoke_summary
from tests.support.orthanc import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SERVER_START_SECONDS = 120
RUN_SECONDS = 180
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
HUB_VARIABLES = ("SPOKESYNC_CONFIG", "SPOKESYNC_HOME")


@pytest.fixture(scope="module")
def prefect_harness():
    """This module runs its own Prefect server, as production does, not the test harness."""
    yield


@dataclass
class Production:
    """The shell an administrator deploys from: its environment, folder and background jobs."""

    home: Path
    env: dict[str, str]
    jobs: list[subprocess.Popen] = field(default_factory=list)

    def run(self, *commands: tuple[str, ...]) -> list[str]:
        """Run README commands side by side (each is a process of its own, as from two
        terminals) to their end; fail the test with the output of one that fails."""
        jobs = [
            subprocess.Popen(
                [str(BIN / command[0]), *command[1:]],
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for command in commands
        ]
        outputs = [job.communicate(timeout=180)[0] for job in jobs]
        for command, job, output in zip(commands, jobs, outputs, strict=True):
            assert job.returncode == 0, f"{' '.join(command)}:\n{output}"
        return outputs

    def start(self, name: str, *command: str, env: dict, cwd: Path) -> subprocess.Popen:
        """Start a long-running command in its own process group, its output in a log."""
        log = (self.home / f"{name}.log").open("w")
        job = subprocess.Popen(
            [str(BIN / command[0]), *command[1:]],
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.jobs.append(job)
        return job

    def log(self, name: str) -> str:
        return (self.home / f"{name}.log").read_text("utf-8", "replace")[-4000:]

    def stop(self) -> None:
        """Stop the worker, then the server, by process group; last started, first stopped."""
        for job in reversed(self.jobs):
            if job.poll() is None:
                os.killpg(job.pid, 15)
                try:
                    job.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(job.pid, 9)
                    job.wait(timeout=10)


def readme_commands() -> list[list[str]]:
    """The commands of the README's production section as words (quotes, comments, a trailing
    `&` and the server's `--port` dropped)."""
    text = (ROOT / "README.md").read_text("utf-8")
    section = text.split("## Prefect deployments", 1)[1].split("\n## ", 1)[0]
    block = section.split("```", 2)[1]
    return [without_port(shlex.split(line, comments=True)) for line in block.splitlines()]


def without_port(words: list[str]) -> list[str]:
    words = [w for w in words if w != "&"]
    if "--port" in words:
        at = words.index("--port")
        del words[at : at + 2]
    return words


def readme(*command: str) -> tuple[str, ...]:
    """The command, checked to be a README line (maybe with more options at its end, such as
    the copied prefect.yaml): the test runs what the README says."""
    typed = without_port([w for w in command if w != "--no-prompt"])
    lines = [words for words in readme_commands() if words]
    assert any(typed[: len(words)] == words for words in lines), " ".join(command)
    return command


@pytest.fixture
def production(tmp_path, hub):
    """The hub as `spokesync init` and `spoke add` leave it, and a Prefect server of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "SPOKESYNC_"))}
    home = tmp_path / "prefect-home"
    home.mkdir()
    port = free_port()
    env |= {
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY": "false",
        "SPOKESYNC_HOME": str(ROOT),
        "SPOKESYNC_CONFIG": str(hub.file),
    }
    shell = Production(home, env)
    try:
        start_server(shell, port)
        yield shell
    finally:
        shell.stop()


def start_server(shell: Production, port: int) -> None:
    command = readme("prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port))
    server = shell.start("server", *command, env=shell.env, cwd=shell.home)
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        assert server.poll() is None, f"prefect server exited:\n{shell.log('server')}"
        try:
            with urllib.request.urlopen(f"{shell.env['PREFECT_API_URL']}/health", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(
        f"prefect server did not answer in {SERVER_START_SECONDS} s:\n{shell.log('server')}"
    )


def flow_run_id(output: str) -> str:
    """The id of the flow run `prefect deployment run` created."""
    return re.search(r"UUID: ([0-9a-f-]{36})", output)[1]


def finished_state(shell: Production, flow_run_id: str) -> str:
    """Poll the server's REST API until the flow run ends; its state type."""
    url = f"{shell.env['PREFECT_API_URL']}/flow_runs/{flow_run_id}"
    deadline = time.monotonic() + RUN_SECONDS
    while time.monotonic() < deadline:
        with urllib.request.urlopen(url, timeout=10) as answer:
            state = json.load(answer)["state_type"]
        if state in TERMINAL:
            return state
        time.sleep(1)
    return f"still running after {RUN_SECONDS} s"


def test_readme_production_section_runs_on_demand_and_nightly_through_a_process_worker(
    production, hub, tmp_path
):
    shell = production
    prefect_yaml = tmp_path / "prefect.yaml"
    shutil.copy(ROOT / "prefect.yaml", prefect_yaml)
    shell.run(
        readme("prefect", "work-pool", "create", "spokesync", "--type", "process"),
    )
    # The worker polls every 2 s instead of 10 and never sees the hub's variables.
    worker_env = {k: v for k, v in shell.env.items() if k not in HUB_VARIABLES}
    worker_env["PREFECT_WORKER_QUERY_SECONDS"] = "2"
    worker = readme("prefect", "worker", "start", "--pool", "spokesync")
    shell.start("worker", *worker, env=worker_env, cwd=shell.home)
    shell.run(
        readme("prefect", "--no-prompt", "deploy", "--all", "--prefect-file", str(prefect_yaml))
    )
    limit_url = f"{shell.env['PREFECT_API_URL']}/v2/concurrency_limits/catalog-writer"
    with urllib.request.urlopen(limit_url, timeout=10) as answer:
        assert json.load(answer)["limit"] == 1  # deploying created the catalog-writer limit

    runs = shell.run(
        readme(
            "prefect", "deployment", "run", "reconcile-spoke/on-demand", "--param", "spoke=north"
        ),
        readme("prefect", "deployment", "run", "nightly-reconcile/nightly"),
    )

    states = [finished_state(shell, flow_run_id(output)) for output in runs]
    assert states == ["COMPLETED", "COMPLETED"], shell.log("worker")
    with open_catalog(hub.catalog) as con:
        held = {row["spoke"]: row["instances"] for row in spoke_summary(con)}
    drops = {spoke: hub.spokes[spoke].drop for spoke in ("north", "south")}
    rows = {s: pq.read_metadata(d / "manifest.parquet").num_rows for s, d in drops.items()}
    assert held == rows and all(rows.values())
