"""A catalog connection keeps DuckDB's memory bounded (issue 8 row 1: peak RSS ≤ 4 GiB)."""

from __future__ import annotations

from spokesync.catalog import open_catalog
from spokesync.catalog.connection import MEMORY_ENV


def memory_limit(path) -> str:
    with open_catalog(path) as con:
        return con.execute("select current_setting('memory_limit')").fetchone()[0]


def test_the_catalog_opens_with_a_bounded_buffer_that_the_environment_can_change(
    tmp_path, monkeypatch
):
    monkeypatch.delenv(MEMORY_ENV, raising=False)
    assert memory_limit(tmp_path / "catalog.duckdb") == "3.0 GiB"
    monkeypatch.setenv(MEMORY_ENV, "512MiB")
    assert memory_limit(tmp_path / "catalog.duckdb") == "512.0 MiB"
