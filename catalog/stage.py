"""Screening a staged manifest in DuckDB (catalog/sql/stage.sql), away from the catalog file.

The rules across rows (one row per SOP instance, one study per series, one patient per study)
are grouped here over 64-bit hashes of the UIDs, with a memory limit past which DuckDB spills;
tasks/manifest/stage.py names the rows only when this screen shows something.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from spokesync.catalog import queries

SCREEN_MEMORY = "1GB"  # DuckDB's share while it groups the staged file (it spills past this)


def screen_shows_repeats(staged: Path, memory_limit: str = SCREEN_MEMORY) -> bool:
    """Might a UID repeat where the manifest rules allow one value? (false: surely not)"""
    spill = str(staged.parent / "screen.tmp")
    with duckdb.connect(config={"memory_limit": memory_limit, "temp_directory": spill}) as con:
        con.read_parquet(str(staged)).create_view("staged_manifest")
        return any(queries.run(con, "manifest_group_screen").fetchone())
