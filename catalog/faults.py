"""Named crash points of a run and of retrieval, where the kill tests stop the process (issue 9).

`kill_point(name)` does nothing unless the environment variable SPOKESYNC_KILL_AT names that
point (`tar-renamed`, or `tar-renamed,2` for its second occurrence). Then it writes the point's
name to the file SPOKESYNC_KILL_MARK names (if set), so a test can prove where the process died,
and SIGKILLs its own process: no exception handler, `finally` or flush runs, as in a power cut.

SPOKESYNC_PAUSE_AT (same syntax) instead writes the point's name to the file
SPOKESYNC_PAUSE_READY names and sleeps there for good, so a test can signal the process at a
known step. Every point also records in `progress` how far this process's commit got, which is
what the command line says when it is stopped by a signal (flows.cli.signals).
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field

KILL_ENV = "SPOKESYNC_KILL_AT"
MARK_ENV = "SPOKESYNC_KILL_MARK"
PAUSE_ENV = "SPOKESYNC_PAUSE_AT"
READY_ENV = "SPOKESYNC_PAUSE_READY"

# The durable steps of a reconcile run, in the order a run passes them.
RUN_POINTS = (
    "object-staged",  # one object copied into a series TAR under its temporary name
    "tar-written",  # a whole series TAR written and fsynced, not yet renamed
    "tar-renamed",  # one TAR linked into its final name (before the next one)
    "transaction-begun",  # the run's catalog transaction opened
    "cc-records-inserted",  # the run's cc records inserted, nothing else yet
    "before-commit",  # every change and the run's row inserted, COMMIT not yet sent
    "committed",  # the transaction committed, the catalog not yet closed
    "reports-written",  # the run's report files renamed into place
)
# The durable steps of retrieving a study into a folder.
RETRIEVE_POINTS = (
    "object-read",  # one object read from its TAR and its SHA-256 checked
    "object-written",  # one object written under its temporary name
    "object-renamed",  # one object renamed to its final name
)
KILL_POINTS = RUN_POINTS + RETRIEVE_POINTS


@dataclass
class Progress:
    """How far this process's commits got: the run being committed, whether its COMMIT may be
    under way, the runs committed, and the point a test paused the process at."""

    committing: str | None = None
    commit_sent: bool = False
    committed: list[str] = field(default_factory=list)
    paused_at: str | None = None


progress = Progress()
_passed: dict[str, dict[str, int]] = {KILL_ENV: {}, PAUSE_ENV: {}}


def parse_kill_at(value: str | None, env: str = KILL_ENV) -> tuple[str, int] | None:
    """`point` or `point,n` → (point, n); None when no kill (or pause) is asked for."""
    if not value:
        return None
    point, _, nth = value.partition(",")
    if point not in KILL_POINTS:
        known = ", ".join(KILL_POINTS)
        raise ValueError(f"{env}={value!r} names no kill point; known points: {known}")
    if nth and (not nth.isdigit() or int(nth) < 1):
        raise ValueError(f"{env}={value!r}: the occurrence after ',' must be 1 or more")
    return point, int(nth or 1)


def begin_commit(run_id: str) -> None:
    """The flow is about to commit `run_id` (its `committed` point marks it done)."""
    progress.committing, progress.commit_sent = run_id, False


def end_commit() -> None:
    """The commit step returned or failed: no COMMIT of this process is under way."""
    progress.committing, progress.commit_sent = None, False


def kill_point(name: str) -> None:
    """Note the point; pause here if SPOKESYNC_PAUSE_AT asks for it; die here by SIGKILL if
    SPOKESYNC_KILL_AT asks for this point (and this occurrence)."""
    if name not in KILL_POINTS:
        raise ValueError(f"{name!r} is not a kill point; add it to catalog.faults")
    _note(name)
    if _wanted_here(PAUSE_ENV, name):
        _pause(name)
    if not _wanted_here(KILL_ENV, name):
        return
    mark = os.environ.get(MARK_ENV)
    if mark:
        _write_synced(mark, f"{name},{_passed[KILL_ENV][name]}\n")
    os.kill(os.getpid(), signal.SIGKILL)


def _note(name: str) -> None:
    if name == "before-commit":
        progress.commit_sent = True
    elif name == "committed" and progress.committing:
        progress.committed.append(progress.committing)
        end_commit()


def _wanted_here(env: str, name: str) -> bool:
    """Is this call the occurrence of `name` that the variable `env` asks for?"""
    wanted = parse_kill_at(os.environ.get(env), env)
    if wanted is None or wanted[0] != name:
        return False
    passed = _passed[env]
    passed[name] = passed.get(name, 0) + 1
    return passed[name] == wanted[1]


def _pause(name: str) -> None:
    """Say where the process stopped, then sleep until a signal ends it."""
    progress.paused_at = name
    ready = os.environ.get(READY_ENV)
    if ready:
        _write_synced(ready, f"{name}\n")
    while True:
        time.sleep(0.1)


def _write_synced(path: str, text: str) -> None:
    with open(path, "w", encoding="ascii") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
