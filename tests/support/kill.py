"""Helpers for the kill-point tests: a process that runs reconciles and retrievals to be killed,
and the catalog and nearline as comparable values.

`python -m tests.support.kill serve` imports the hub's code once, then forks one child per
command it reads (a JSON line) and answers with the child's exit status: every child is a real
process that runs a real reconcile or retrieval and can be SIGKILLed, without paying Prefect's
import time again for each kill point. `python -m tests.support.kill reconcile CONFIG SPOKE`
runs one command directly.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
import traceback
from pathlib import Path

from spokesync.catalog import open_catalog
from spokesync.catalog.faults import KILL_ENV, MARK_ENV
from spokesync.tasks.nearline.listing import list_partials, list_tars
from spokesync.tasks.nearline.members import read_member
from spokesync.tasks.nearline.tars import INDEX_NAME
from spokesync.tasks.nearline.volume_check import scan_tar

ROOT = Path(__file__).resolve().parents[2]
RUN_ID = re.compile(r"\b[a-z0-9_]+-\d{8}T\d{6}-[0-9a-f]{6}\b")
# Set by the clock of the run that wrote them; two clean runs of the same drop differ only here.
TIME_COLUMNS = {"started_at", "finished_at", "created_at", "decided_at", "detected_at", "since"}


def reconcile(config_file: str, spoke: str, result_file: str) -> None:
    """One run as the reconcile-spoke flow does it, without Prefect: run, then its reports."""
    from spokesync.tasks.config import load_config
    from spokesync.tasks.reconcile.run import run_spoke
    from spokesync.tasks.reports.tables import write_reports

    config = load_config(Path(config_file))
    result = run_spoke(config, spoke, allow_mass_delete=True)
    Path(result_file).write_text(json.dumps(result))
    write_reports(config, result["run_id"])


def retrieve(config_file: str, study_uid: str, out: str) -> None:
    from spokesync.tasks.config import load_config
    from spokesync.tasks.retrieve.study import retrieve_study

    result = retrieve_study(load_config(Path(config_file)), study_uid, out=Path(out))
    if result.failed:
        raise SystemExit(f"{len(result.failed)} objects failed")


COMMANDS = {"reconcile": reconcile, "retrieve": retrieve}
# What the commands import, some of it lazily (pyarrow loads pandas for a pandas-backed read).
PRELOAD = (
    "spokesync.tasks.config",
    "pandas",
    "pyarrow.dataset",
    "pyarrow.pandas_compat",
    "spokesync.tasks.reconcile.run",
    "spokesync.tasks.reports.tables",
    "spokesync.tasks.retrieve.study",
)


def serve() -> None:
    """Fork a child per command line (`{"command", "args", "env"}`); answer its exit status."""
    for module in PRELOAD:  # loaded once, before any fork
        importlib.import_module(module)

    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            os.dup2(2, 1)  # the child's prints must not mix with the answers on stdout
            _child(request)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"status": os.waitstatus_to_exitcode(status)}), flush=True)


def _child(request: dict) -> None:
    code = 0
    try:
        os.environ.update(request["env"])
        COMMANDS[request["command"]](*request["args"])
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        sys.stderr.flush()
        os._exit(code)


class Runner:
    """The test side of `serve`: run a command in a fresh child, optionally killed at a point."""

    def __init__(self) -> None:
        env = os.environ | {"PYTHONPATH": str(ROOT)}
        env.pop(KILL_ENV, None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.kill", "serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
            env=env,
            text=True,
        )

    def run(self, command: str, *args: str, kill_at: str | None = None, mark: Path | None = None):
        """Exit status of the child: 0, 1 (an error, on stderr) or -9 (killed)."""
        env = {KILL_ENV: kill_at, MARK_ENV: str(mark)} if kill_at else {}
        request = {"command": command, "args": [str(a) for a in args], "env": env}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())["status"]

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


def catalog_export(config, base_runs: set[str]) -> dict[str, list]:
    """Every table, fully, with only what differs between two clean runs normalised:
    the new runs' ids (random), run-clock timestamps, and the hub folder the copy lives in."""
    hub = str(Path(config.file).parent)
    with open_catalog(config.catalog) as con:
        names = [r[0] for r in con.execute("show tables").fetchall()]
        tables = {}
        for name in names:
            cursor = con.execute(f"select * from {name}")
            columns = [d[0] for d in cursor.description]
            rows = [
                tuple(_norm(c, v, hub, base_runs) for c, v in zip(columns, row, strict=True))
                for row in cursor.fetchall()
            ]
            tables[name] = sorted(rows, key=repr)
    return tables


def _norm(column: str, value, hub: str, base_runs: set[str]):
    if column in TIME_COLUMNS and value is not None:
        return "<time>"
    if isinstance(value, str):
        value = value.replace(hub, "<hub>")
        return RUN_ID.sub(lambda m: m[0] if m[0] in base_runs else "<run>", value)
    if isinstance(value, list):
        return [_norm(column, v, hub, base_runs) for v in value]
    return value


def nearline_content(volume: Path) -> dict:
    """Each published TAR (its run id normalised) with its members' names and SHA-256s, and
    the partial TARs left beside them."""
    tars = {
        RUN_ID.sub("<run>", rel): sorted(_member(volume / rel, m) for m in scan_tar(volume / rel))
        for rel in list_tars(volume)
    }
    return {"tars": tars, "partials": sorted(list_partials(volume))}


def _member(tar: Path, member) -> tuple[str, str]:
    """A member's name and SHA-256; the index member names the run, so its text is compared
    with the run id normalised."""
    if member.name != INDEX_NAME:
        return member.name, member.sha256
    return member.name, RUN_ID.sub("<run>", read_member(tar, member.offset, member.size).decode())


def run_command(argv: list[str]) -> None:
    if argv[0] == "serve":
        serve()
    else:
        COMMANDS[argv[0]](*argv[1:])


if __name__ == "__main__":
    run_command(sys.argv[1:])
