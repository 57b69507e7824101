"""Opening the catalog: the writer lock first, then DuckDB, migrated to the current schema."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from spokesync.catalog.errors import CatalogBusy, CatalogDamaged
from spokesync.catalog.lock import writer_lock
from spokesync.catalog.migrations import migrate

# DuckDB's buffer for one catalog connection; past it, joins, sorts and temp tables spill to
# `<catalog>.tmp`. DuckDB's own default (80 % of RAM) lets a ten-million-row plan take the host;
# 3 GiB is the smallest cap a 10M x 10M reconcile passes with (2 and 2.5 GiB run out of memory
# in the pairing); that run peaks at 4.08 GiB of RSS (docs/benchmarks.md, row 1).
MEMORY_LIMIT = "3GiB"
MEMORY_ENV = "SPOKESYNC_CATALOG_MEMORY"
# DuckDB lets a file be open read-write by one process or read-only by several, never both;
# every catalog connection is short, so an open that meets the other kind retries this long.
OPEN_RETRY_SECONDS = 30.0
OPEN_RETRY_POLL = 0.1


def duckdb_config() -> dict[str, str]:
    """The settings every catalog connection opens with (`SPOKESYNC_CATALOG_MEMORY` overrides)."""
    return {"memory_limit": os.environ.get(MEMORY_ENV) or MEMORY_LIMIT}


@contextmanager
def open_catalog(path: Path, *, wait: bool | float = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Yield a connection holding the writer lock; DuckDB's file lock is released on exit.

    DuckDB lets one process open a database file for writing, so every access is short:
    open, work, close. Other processes queue on the lock (`wait`) or get CatalogLocked.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with writer_lock(path, wait=wait), damage_said(path):
        con = _connect(path, read_only=False)  # readers hold the file for moments only
        try:
            migrate(con)
            yield con
        finally:
            con.close()


@contextmanager
def read_catalog(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Yield a read-only connection, without the writer lock and never waiting on it.

    A writer holds the DuckDB file only while it works (open, work, close), so the open is
    retried for a while (OPEN_RETRY_SECONDS); a longer hold gives CatalogBusy.
    """
    path = Path(path)
    if not path.exists():
        raise CatalogBusy(
            f"there is no catalog at {path} yet; a first `spokesync reconcile` or "
            "`spokesync nightly` creates it (check catalog.path in spokesync.toml)"
        )
    with damage_said(path):
        con = _connect(path, read_only=True)
        try:
            yield con
        finally:
            con.close()


def _connect(path: Path, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    """duckdb.connect, retried while a process of the other kind (reader or writer) has it."""
    deadline = time.monotonic() + OPEN_RETRY_SECONDS
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only, config=duckdb_config())
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            if time.monotonic() >= deadline:
                raise CatalogBusy(_busy(path, read_only)) from None
        time.sleep(OPEN_RETRY_POLL)


def _busy(path: Path, read_only: bool) -> str:
    if read_only:
        return (
            f"the catalog {path} stayed open for writing for {OPEN_RETRY_SECONDS:.0f} s (a run "
            "is committing); try again in a minute, or read the reports (`spokesync report …`)"
        )
    return (
        f"the catalog {path} stayed open by readers for {OPEN_RETRY_SECONDS:.0f} s; "
        "run again when they finish"
    )


def writer_free(path: Path) -> None:
    """Raise CatalogLocked, naming the holder, if another process holds the writer lock now
    (a command checks this before it starts a flow; the flow takes the lock itself)."""
    with writer_lock(Path(path), wait=False):
        pass


# What DuckDB says of a file that is truncated, overwritten or not a catalog at all.
_DAMAGE = ("not a valid duckdb database", "could not read enough bytes", "corrupt", "checksum")


@contextmanager
def damage_said(path: Path) -> Iterator[None]:
    """Turn DuckDB's errors about a damaged catalog file into one that names the file and the
    way back, without a traceback."""
    try:
        yield
    except (duckdb.IOException, duckdb.SerializationException, duckdb.InternalException) as exc:
        if not any(word in str(exc).lower() for word in _DAMAGE):
            raise
        raise CatalogDamaged(
            f"the catalog {path} is damaged ({str(exc).splitlines()[0]}); nothing was changed. "
            "Restore it from a backup (then runs that wrote since are recognised and named), or "
            "move it aside and rebuild it from nearline with `spokesync catalog rebuild`"
        ) from None


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All statements inside commit together or not at all (DESIGN §4 rule 2)."""
    con.execute("begin transaction")
    try:
        yield con
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")
