"""Opening the catalog: the writer lock first, then DuckDB, migrated to the current schema."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from catalog.lock import writer_lock
from catalog.migrations import migrate


@contextmanager
def open_catalog(path: Path, *, wait: bool | float = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Yield a connection holding the writer lock; DuckDB's file lock is released on exit.

    DuckDB lets one process open a database file for writing, so every access is short:
    open, work, close. Other processes queue on the lock (`wait`) or get CatalogLocked.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with writer_lock(path, wait=wait):
        con = duckdb.connect(str(path))
        try:
            migrate(con)
            yield con
        finally:
            con.close()


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
