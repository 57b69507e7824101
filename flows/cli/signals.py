"""Ctrl-C (SIGINT) and SIGTERM during `spokesync reconcile` and `nightly` (issue 16).

The process stops within seconds, prints one line saying what state the hub is in, leaves no
child process (Prefect's temporary server) behind and exits with 128 + the signal's number
(130 for SIGINT, 143 for SIGTERM).

The signal is caught in C and written to a pipe (`signal.set_wakeup_fd`), so a watcher thread
acts on it even while the main thread is inside a long DuckDB query, and whatever Prefect does
with the signal in the main thread is never shown. Stopping is then what a power cut does to a
run, which the kill-point tests prove safe (DESIGN §4.2, §4.3): before COMMIT the catalog is
unchanged, after it the run is whole, and what the run left in nearline is handled by the next
run's orphan sweep.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path

from spokesync.catalog.faults import progress

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
COMMIT_GRACE_SECONDS = 5.0  # how long a COMMIT already sent may take before we stop anyway
CHILD_GRACE_SECONDS = 3.0
AFTERWARDS = "partial files are moved aside at the next start"


def stop_cleanly_on_signals() -> None:
    """Install the handlers; call once, from the main thread, before any flow starts."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    for signum in EXIT_CODES:
        signal.signal(signum, _leave_it_to_the_watcher)
    signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    threading.Thread(target=_watch, args=(read_fd,), name="spokesync-signals", daemon=True).start()


def _leave_it_to_the_watcher(signum, frame) -> None:
    """A Python-level handler must exist for the C handler to write to the wakeup pipe."""


def _watch(read_fd: int) -> None:
    signum = signal.Signals(os.read(read_fd, 1)[0])
    said = os.dup(2)
    _silence_the_other_threads()
    stop_children()  # before they print anything of their own
    line = f"spokesync: interrupted ({signum.name}); {hub_state()}\n"
    os.write(said, line.encode())
    os._exit(EXIT_CODES.get(signum, 128 + signum))


def _silence_the_other_threads() -> None:
    """The main thread may still unwind (Prefect logs a crash there): none of it is shown."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)


def hub_state() -> str:
    """One phrase on the catalog: unchanged, or which runs this process committed."""
    deadline = time.monotonic() + COMMIT_GRACE_SECONDS
    while _commit_in_flight() and time.monotonic() < deadline:
        time.sleep(0.05)  # a COMMIT already sent finishes (or fails) on its own
    committed = ", ".join(progress.committed)
    if _commit_in_flight():
        return (
            f"stopped during the commit of run {progress.committing}: the catalog holds all of "
            f"it or none of it (`spokesync report runs` shows which); {AFTERWARDS}"
        )
    if committed:
        return f"stopped after commit of run {committed}; nothing later was committed; {AFTERWARDS}"
    return f"stopped before commit: catalog unchanged; {AFTERWARDS}"


def _commit_in_flight() -> bool:
    return progress.commit_sent and progress.paused_at != "before-commit"


def stop_children() -> None:
    """SIGKILL every descendant (the temporary Prefect server) and wait until they are gone.

    Not SIGTERM: the server's graceful stop prints tracebacks of its own on the terminal we
    share, and its SQLite database is safe against a killed process anyway.
    """
    family = descendants(os.getpid())
    for pid in family:
        _send(pid, signal.SIGKILL)
    deadline = time.monotonic() + CHILD_GRACE_SECONDS
    while any(alive(pid) for pid in family) and time.monotonic() < deadline:
        _reap()
        time.sleep(0.02)


def descendants(root: int) -> list[int]:
    """Children, grandchildren, … of `root`, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # gone while listing
        children.setdefault(parent, []).append(int(stat.parent.name))
    found, frontier = [], [root]
    while frontier:
        kids = children.get(frontier.pop(), [])
        found.extend(kids)
        frontier.extend(kids)
    return found


def alive(pid: int) -> bool:
    """Running, neither gone nor a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


def _send(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)
