"""Numbered, append-only schema migrations that record themselves in the catalog."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import duckdb

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available_migrations() -> list[Migration]:
    """Every `NNNN_name.sql` file shipped in catalog/sql, in version order."""
    found = []
    for entry in resources.files("spokesync.catalog.sql").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text("utf-8")))
    return sorted(found, key=lambda m: m.version)


def applied_versions(con: duckdb.DuckDBPyConnection) -> set[int]:
    con.execute(
        "create table if not exists schema_migrations ("
        " version integer primary key, name varchar not null,"
        " applied_at timestamptz not null default now())"
    )
    return {row[0] for row in con.execute("select version from schema_migrations").fetchall()}


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply each pending migration in its own transaction together with its record."""
    done = applied_versions(con)
    newly = []
    for migration in available_migrations():
        if migration.version in done:
            continue
        con.execute("begin transaction")
        try:
            con.execute(migration.sql)
            con.execute(
                "insert into schema_migrations (version, name) values (?, ?)",
                [migration.version, migration.name],
            )
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
        newly.append(migration.version)
    if newly:
        # DuckDB 1.5 cannot replay some DDL from its WAL (ALTER TABLE ADD COLUMN on a table
        # whose default calls nextval fails with an internal error): a process killed before
        # the next checkpoint would leave a catalog that no longer opens. Checkpoint now.
        con.execute("checkpoint")
    return newly
