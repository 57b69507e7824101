"""One catalog writer at a time: an fcntl lock beside the DuckDB file, naming its holder."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from spokesync.catalog.errors import CatalogLocked

_in_process: dict[str, threading.Lock] = {}
_registry_guard = threading.Lock()
POLL_SECONDS = 0.2


def lock_path(catalog_path: Path) -> Path:
    return catalog_path.with_name(catalog_path.name + ".lock")


def _thread_lock(path: Path) -> threading.Lock:
    with _registry_guard:
        return _in_process.setdefault(str(path.resolve()), threading.Lock())


def holder_pid(path: Path) -> int | None:
    """The PID the current holder wrote into the lock file, if any."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextmanager
def writer_lock(catalog_path: Path, *, wait: bool | float = False) -> Iterator[None]:
    """Hold the writer lock; `wait` False fails at once, True waits, a number waits that long."""
    path = lock_path(catalog_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    threads = _thread_lock(path)  # threads of one process queue here; flock is per open file
    threads.acquire()
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _acquire(fd, path, catalog_path, wait)
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
            os.fsync(fd)
            try:
                yield
            finally:
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
    finally:
        threads.release()


def _acquire(fd: int, path: Path, catalog_path: Path, wait: bool | float) -> None:
    deadline = None if wait is True else time.monotonic() + float(wait or 0)
    while not _try_flock(fd):
        if deadline is not None and time.monotonic() >= deadline:
            raise CatalogLocked(str(catalog_path), holder_pid(path))
        time.sleep(POLL_SECONDS)
