"""The HTML report's words: byte sizes people read, column headers, a quiet run's records."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pyarrow as pa

from spokesync.catalog.vocabulary import Kind
from spokesync.tasks.reports.night import header, human_bytes, kinds_text, last_night


def test_byte_sizes_read_in_binary_units_with_one_decimal():
    assert human_bytes(0) == "0 bytes"
    assert human_bytes(1023) == "1,023 bytes"
    assert human_bytes(1536) == "1.5 KiB"
    assert human_bytes(4_198_296) == "4.0 MiB"
    assert human_bytes(3 * 1024**4) == "3.0 TiB"


def test_headers_are_words_and_unknown_columns_lose_their_underscores():
    assert header("instances_archived") == "New objects"
    assert header("source_study_uids") == "Studies before"
    assert header("age_minutes") == "Age minutes"


def test_records_by_kind_follow_the_vocabulary_and_a_quiet_run_says_none():
    counts = Counter({Kind.NEW_OBJECTS: 2, Kind.SPLIT: 1})
    assert kinds_text(counts).replace("\xa0", " ") == "SPLIT 1, NEW_OBJECTS 2"
    assert kinds_text(Counter()) == "none"


def test_last_night_takes_each_spokes_newest_run_and_counts_only_its_records():
    at = [datetime(2026, 12, d, 2, tzinfo=UTC) for d in (1, 2)]
    runs = pa.Table.from_pylist(
        [
            {
                "run_id": "north-2",
                "spoke_id": "north",
                "status": "committed",
                "started_at": at[1],
                "instances_archived": 0,
            },
            {
                "run_id": "north-1",
                "spoke_id": "north",
                "status": "committed",
                "started_at": at[0],
                "instances_archived": 150,
            },
        ]
    )
    changes = pa.Table.from_pylist(
        [
            {"run_id": "north-1", "spoke_id": "north", "kind": "NEW_OBJECTS"},
            {"run_id": "north-2", "spoke_id": "north", "kind": "UID_FIX"},
        ]
    )
    pending = pa.table({"spoke_id": ["north"]})
    (row,) = last_night(runs, changes, pending).to_pylist()
    assert (row["last_run"], row["new_objects"], row["pending_reviews"]) == ("north-2", 0, 1)
    assert row["records"].replace("\xa0", " ") == "UID_FIX 1"


def test_an_unknown_size_is_an_empty_cell_and_the_cli_shows_the_same_units_as_the_report():
    assert human_bytes(None) == ""
    from spokesync.flows import console
    from spokesync.flows.cli import retrieve

    assert console.human_bytes is human_bytes and retrieve.human_bytes is human_bytes
