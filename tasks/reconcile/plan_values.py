"""A plan's value tables: each changed attribute, and each changed value of each paired
instance, under the record that carries it (ATTRIBUTES and UID_FIX for a study's and its
patient's values, ATTRIBUTES of one series for a corrected series)."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from spokesync.catalog import detect as sql_detect
from spokesync.catalog.vocabulary import Kind
from spokesync.tasks.reconcile.detect import RecordBook

WHOLE_STUDY_VALUES = (Kind.ATTRIBUTES, Kind.UID_FIX)  # records that carry a study's values

ATTRIBUTE_SCHEMA = pa.schema(
    [
        ("rec", pa.int64()),
        ("level", pa.string()),
        ("entity", pa.string()),
        ("study", pa.string()),
        ("attribute", pa.string()),
        ("old", pa.string()),
        ("new", pa.string()),
    ]
)


def attribute_table(
    book: RecordBook,
    study_changes: list[dict],
    series_changes: list[dict],
    reidentified: set[tuple[str, str]],
) -> pa.Table:
    """Flatten every changed attribute with the record that carries it."""
    rec_of_pair, rec_of_series = _value_records(book)
    rows = []
    for c in study_changes:
        rec = rec_of_pair.get((c["source"], c["target"]))
        rows.append(_attribute_row(rec, c["level"], c["target"], c["target"], c, True))
    rows += [
        _attribute_row(rec_of_series[c["series"]], "series", c["series"], c["study"], c, False)
        for c in series_changes
    ]
    return pa.Table.from_pylist([r for r in rows if r["rec"] is not None], schema=ATTRIBUTE_SCHEMA)


def _attribute_row(
    rec: int | None, level: str, entity: str, study: str, change: dict, as_text: bool
) -> dict:
    """One changed attribute: a study pair's values as text, a series' values as read."""
    old, new = change["old"], change["new"]
    if as_text:
        old, new = _text(old), _text(new)
    return {
        "rec": rec,
        "level": level,
        "entity": entity,
        "study": study,
        "attribute": change["attribute"],
        "old": old,
        "new": new,
    }


def _value_records(book: RecordBook) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
    """The records that carry changed values: {(source, target): rec} for patient and study
    values (ATTRIBUTES and UID_FIX), {series UID: rec} for a corrected series."""
    by_pair = {
        (p.sources[0], p.targets[0]): p.rec
        for p in book.records
        if p.kind in WHOLE_STUDY_VALUES and p.series is None and p.sources and p.targets
    }
    return by_pair, {p.series: p.rec for p in book.records if p.series}


def value_table(con: duckdb.DuckDBPyConnection, book: RecordBook) -> pa.Table:
    """Each changed value of each instance under the record that carries it."""
    rec_of_pair, rec_of_series = _value_records(book)
    pairs = [(source, target, rec) for (source, target), rec in rec_of_pair.items()]
    series = list(rec_of_series.items())
    pair_recs = pa.table(
        {
            "source": pa.array([p[0] for p in pairs], pa.string()),
            "target": pa.array([p[1] for p in pairs], pa.string()),
            "rec": pa.array([p[2] for p in pairs], pa.int64()),
        }
    )
    series_recs = pa.table(
        {
            "series": pa.array([s[0] for s in series], pa.string()),
            "rec": pa.array([s[1] for s in series], pa.int64()),
        }
    )
    return sql_detect.value_changes(con, pair_recs, series_recs)


def _text(value: object) -> str | None:
    return None if value is None else str(value)
