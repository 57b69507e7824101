"""Fingerprints of a batch's objects, computed in worker processes while its TARs are written.

Parsing a header and hashing its pixel bytes is most of archiving's CPU time; the process that
writes the TARs only waits for an object's fingerprint when it has copied that object.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from catalog.errors import ObjectRefused
from tasks.fingerprints import fingerprint_file

# Workers start from a fork server (Prefect runs threads) and import pydicom first (~1 s).
PARALLEL_MIN_OBJECTS = 200
Outcome = tuple[str | None, str | None]  # (fingerprint, why the object was refused)


def fingerprint_chunk(paths: list[str]) -> list[Outcome]:
    """Fingerprint files in order (one worker-process task); a refusal is returned, not raised."""
    outcomes: list[Outcome] = []
    for path in paths:
        try:
            outcomes.append((fingerprint_file(path), None))
        except ObjectRefused as exc:
            outcomes.append((None, str(exc)))
    return outcomes


class BatchPrints:
    """Fingerprints of `paths`, started in worker processes when there are enough of them.

    Use as a context manager; `get` returns one path's fingerprint or raises ObjectRefused.
    """

    def __init__(self, paths: list[Path], workers: int | None = None) -> None:
        workers = workers if workers is not None else min(2, os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None
        self._where: dict[Path, tuple[Future[list[Outcome]], int]] = {}
        if workers > 1 and len(paths) >= PARALLEL_MIN_OBJECTS:
            context = multiprocessing.get_context("forkserver")
            self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
            self._submit(paths, max(8, len(paths) // (workers * 16)))

    def _submit(self, paths: list[Path], size: int) -> None:
        """Chunks in the order the TARs are written, so the first ones are ready first."""
        assert self._pool is not None
        for start in range(0, len(paths), size):
            chunk = paths[start : start + size]
            future = self._pool.submit(fingerprint_chunk, [str(p) for p in chunk])
            self._where.update({path: (future, i) for i, path in enumerate(chunk)})

    def get(self, path: Path) -> str:
        if path not in self._where:
            return fingerprint_file(path)
        future, index = self._where[path]
        fingerprint, refused = future.result()[index]
        if refused is not None:
            raise ObjectRefused(refused)
        assert fingerprint is not None
        return fingerprint

    def __enter__(self) -> BatchPrints:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
