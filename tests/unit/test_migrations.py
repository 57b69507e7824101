"""Migrations record themselves and apply on an empty file and on an existing one."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from spokesync.catalog import open_catalog
from spokesync.catalog.migrations import available_migrations, migrate
from spokesync.catalog.queries import sql


def test_migrations_apply_on_an_empty_file(tmp_path):
    path = tmp_path / "catalog.duckdb"
    with open_catalog(path) as con:
        versions = [r[0] for r in con.execute("select version from schema_migrations").fetchall()]
        tables = {r[0] for r in con.execute("show tables").fetchall()}
    assert versions == [m.version for m in available_migrations()]
    assert {
        "patients",
        "studies",
        "series",
        "instances",
        "stored_objects",
        "runs",
        "cc_records",
        "cc_instances",
        "uid_map",
    } <= tables


def test_migrations_on_an_existing_file_apply_only_what_is_new(tmp_path):
    path = tmp_path / "catalog.duckdb"
    with open_catalog(path) as con:
        con.execute("insert into uid_map values ('study', '1.2', '1.3', 1, 'r1')")
    con = duckdb.connect(str(path))
    try:
        assert migrate(con) == []
        assert con.execute("select count(*) from uid_map").fetchone()[0] == 1
    finally:
        con.close()


def test_a_failing_migration_leaves_no_record(tmp_path, monkeypatch):
    from spokesync.catalog import migrations
    from spokesync.catalog.migrations import Migration

    broken = available_migrations() + [Migration(9999, "broken", "create table x (a int); oops")]
    monkeypatch.setattr(migrations, "available_migrations", lambda: broken)
    con = duckdb.connect(str(tmp_path / "c.duckdb"))
    try:
        with pytest.raises(duckdb.Error):
            migrate(con)
        versions = {r[0] for r in con.execute("select version from schema_migrations").fetchall()}
        tables = {r[0] for r in con.execute("show tables").fetchall()}
    finally:
        con.close()
    assert 9999 not in versions and "x" not in tables and 1 in versions


def test_every_named_sql_block_parses(tmp_path):
    from spokesync.catalog.detect import pair
    from spokesync.catalog.queries import _all_blocks
    from tests.support.builders import table

    staged_elsewhere = (
        "staged_",
        "study_pairs",
        "edge_records",
        "plan_members",
        "listed_",
        "value_diffs",
        "pair_recs",
        "deletion_conflicts",
        "from effective ",  # values.stage_effective's temp table (serve's image level)
    )
    with open_catalog(tmp_path / "c.duckdb") as con:
        pair(con, table([]).append_column("row_id", pa.array([], pa.int64())), None)
        for text in _all_blocks().values():
            if text.lstrip().lower().startswith(("select", "with")) and not any(
                name in text for name in staged_elsewhere
            ):
                con.execute(f"explain {text}", {k: None for k in _params(text)})
    assert sql("list_changes").startswith("select")


def _params(text: str) -> set[str]:
    import re

    return set(re.findall(r"\$([a-z_]+)", text))
