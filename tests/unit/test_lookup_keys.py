"""Lookup keys (migration 0004): an old catalog gets them, and candidate ranges cover the ids."""

from __future__ import annotations

import duckdb

from spokesync.catalog import open_catalog, queries
from spokesync.catalog.migrations import available_migrations


def test_an_old_catalog_gets_the_keys_of_the_instances_it_holds(tmp_path):
    path = tmp_path / "catalog.duckdb"
    con = duckdb.connect(str(path))
    con.execute(
        "create table schema_migrations (version integer primary key, "
        "name varchar not null, applied_at timestamptz not null default now())"
    )
    for m in available_migrations():
        if m.version < 4:
            con.execute(m.sql)
            con.execute(
                "insert into schema_migrations (version, name) values (?, ?)", [m.version, m.name]
            )
    con.execute("insert into instances (sop_instance_uid, sop_class_uid, series_instance_uid, "
                "study_instance_uid, fingerprint, object_id, owner_spoke, created_run_id, "
                "updated_run_id) values ('1.2.3', '1.2', '1.2.4', '1.2.5', 'px1:ab', 1, 'n', "
                "'r', 'r')")  # fmt: skip
    con.close()
    with open_catalog(path) as con:
        keys = con.execute(
            "select sop_key = md5_number_lower('1.2.3'), study_key = md5_number_lower('1.2.5'), "
            "fp_key = md5_number_lower('px1:ab') from instances"
        ).fetchall()
    assert keys == [(True, True, True)]


def test_candidate_ranges_cover_every_id_and_merge_only_close_ones():
    con = duckdb.connect()
    ids = [5, 6, 7, 9, 5000, 5001, 20000]
    con.execute("create temp table candidate_ids as select unnest($ids)::bigint as instance_id",
                {"ids": ids})  # fmt: skip
    ranges = queries.run(con, "candidate_ranges", {"gap": 100}).fetchall()
    assert ranges == [(5, 9), (5000, 5001), (20000, 20000)]
    assert queries.run(con, "candidate_ranges", {"gap": 10_000}).fetchall() == [
        (5, 5001),
        (20000, 20000),
    ]
