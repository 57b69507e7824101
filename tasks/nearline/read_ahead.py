"""Objects read ahead of a series TAR's writer: worker threads read each file once into a
reused buffer, check and hash it (hashlib releases the GIL on large buffers) while the writer
copies the previous ones into the TAR. A bounded window keeps memory flat."""

from __future__ import annotations

import os
import stat
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from spokesync.catalog.errors import ObjectRefused

WORKERS = 2  # a 2-core hub: one thread walks a header while the other hashes
WINDOW = 6  # objects in flight: at most WINDOW buffers, each the size of one object
LARGE = 64 << 20  # a larger object is never held whole: it streams from its file

Job = TypeVar("Job")
Done = TypeVar("Done")


def read_ahead(
    jobs: Iterable[Job], prepare: Callable[[Job, bytearray], tuple[Done, bytearray]]
) -> Iterator[Done]:
    """Yield `prepare(job, buffer)` for each job, in order, computed by worker threads up to
    WINDOW jobs ahead; `prepare` returns its answer and the buffer it used (a new, larger one
    when the one given was too small). A buffer is handed out again only after the caller
    asked for the next answer, so an answer's view of it stays valid until then. The first
    error is raised in order; later jobs are cancelled."""
    spare = [bytearray() for _ in range(WINDOW)]
    pending: deque = deque()
    with ThreadPoolExecutor(WORKERS, thread_name_prefix="archive-read") as pool:
        try:
            for job in jobs:
                if len(pending) == WINDOW:
                    yield _collect(pending, spare)
                pending.append(pool.submit(prepare, job, spare.pop()))
            while pending:
                yield _collect(pending, spare)
        finally:
            for future in pending:
                future.cancel()


def _collect(pending: deque, spare: list[bytearray]) -> Done:
    answer, buffer = pending.popleft().result()
    spare.append(buffer)
    return answer


def read_into(path: Path, buffer: bytearray) -> tuple[memoryview | None, bytearray]:
    """Read a regular file whole into `buffer` (replaced by a larger one if it is too small);
    return a view of its bytes, or None for a file over LARGE, which is left on disk."""
    with open(path, "rb", buffering=0) as src:
        st = os.fstat(src.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise ObjectRefused(f"{path} is not a regular file and cannot be archived")
        if st.st_size > LARGE:
            return None, buffer
        if len(buffer) < st.st_size:
            buffer = bytearray(st.st_size)
        view = memoryview(buffer)[: st.st_size]
        done = 0
        while done < st.st_size:
            n = src.readinto(view[done:])
            if not n:
                raise ObjectRefused(f"{path} shrank while it was being archived; try again")
            done += n
        if src.read(1):
            raise ObjectRefused(f"{path} grew while it was being archived; try again")
    return view, buffer
