"""Named crash points of a run and of retrieval, where the kill tests stop the process (issue 9).

`kill_point(name)` does nothing unless the environment variable SPOKESYNC_KILL_AT names that
point (`tar-renamed`, or `tar-renamed,2` for its second occurrence). Then it writes the point's
name to the file SPOKESYNC_KILL_MARK names (if set), so a test can prove where the process died,
and SIGKILLs its own process: no exception handler, `finally` or flush runs, as in a power cut.
"""

from __future__ import annotations

import os
import signal

KILL_ENV = "SPOKESYNC_KILL_AT"
MARK_ENV = "SPOKESYNC_KILL_MARK"

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

_passed: dict[str, int] = {}


def parse_kill_at(value: str | None) -> tuple[str, int] | None:
    """`point` or `point,n` → (point, n); None when no kill is asked for."""
    if not value:
        return None
    point, _, nth = value.partition(",")
    if point not in KILL_POINTS:
        known = ", ".join(KILL_POINTS)
        raise ValueError(f"{KILL_ENV}={value!r} names no kill point; known points: {known}")
    if nth and (not nth.isdigit() or int(nth) < 1):
        raise ValueError(f"{KILL_ENV}={value!r}: the occurrence after ',' must be 1 or more")
    return point, int(nth or 1)


def kill_point(name: str) -> None:
    """Die here by SIGKILL if SPOKESYNC_KILL_AT asks for this point (and this occurrence)."""
    if name not in KILL_POINTS:
        raise ValueError(f"{name!r} is not a kill point; add it to catalog.faults")
    wanted = parse_kill_at(os.environ.get(KILL_ENV))
    if wanted is None or wanted[0] != name:
        return
    _passed[name] = _passed.get(name, 0) + 1
    if _passed[name] < wanted[1]:
        return
    mark = os.environ.get(MARK_ENV)
    if mark:
        with open(mark, "w", encoding="ascii") as out:
            out.write(f"{name},{_passed[name]}\n")
            out.flush()
            os.fsync(out.fileno())
    os.kill(os.getpid(), signal.SIGKILL)
