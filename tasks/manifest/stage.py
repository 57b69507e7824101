"""Staging a drop's manifest for a run: checked part by part, written with row ids (DESIGN §2).

A Parquet manifest is read one batch at a time, so a ten-million-row drop never sits whole in
memory: each batch is conformed to the schema and checked by the row rules, then appended to
the staged file with its row ids. The rules across rows (one row per SOP instance, one study per
series, one patient per study) run last, as DuckDB group-bys over the staged file on 64-bit
hashes, which spill to disk rather than grow; only when those see a possible break are the UID
columns read into Arrow, where the rule names its rows (a hash collision finds nothing there).
A CSV manifest, written by hand and small, is read and checked whole.

Beside the staged manifest go the run's data-quality findings (`data_quality.parquet`: values
over their VR's limit, archived as sent, and the drop's rejected objects with the studies they
leave incomplete) and a checked copy of the drop's `rejected.parquet` (tasks/manifest/drop_read.py,
read_rejected: the studies in which nothing may be deleted tonight).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from spokesync.catalog.errors import ManifestInvalid
from spokesync.catalog.stage import screen_shows_repeats
from spokesync.tasks.manifest import rules as manifest_rules
from spokesync.tasks.manifest.drop_read import (
    check_object_uris,
    manifest_file,
    read_manifest_table,
    read_rejected,
    unreadable,
)
from spokesync.tasks.manifest.quality import (
    DROP_QUALITY_FILE,
    FINDINGS_SCHEMA,
    rejected_findings,
    row_findings,
)
from spokesync.tasks.manifest.schema import MANIFEST_SCHEMA

BATCH_ROWS = 122_880  # rows per batch and per staged row group (DuckDB's row group)
CHECKERS = 2  # threads checking batches
CHECKS_AHEAD = 3  # batches checked ahead of the writer: bounds memory
STAGED_SCHEMA = MANIFEST_SCHEMA.append(pa.field("row_id", pa.int64()))
GROUP_COLUMNS = ["sop_instance_uid", "series_instance_uid", "study_instance_uid", "patient_id"]
QUALITY_FILE, REJECTED_FILE = "data_quality.parquet", "rejected.parquet"  # beside the staged


def stage_manifest_file(drop: Path, staged: Path) -> int:
    """Check the drop's manifest and write it to `staged` with row ids; return its row count.

    Raises ManifestInvalid naming the file, row and column of the first broken rule; the staged
    file is then removed.
    """
    file = manifest_file(drop)
    written = (staged, staged.with_name(QUALITY_FILE), staged.with_name(REJECTED_FILE))
    try:
        rejected = read_rejected(drop)
        findings: list[pa.Table] = []
        if file.suffix == ".parquet":
            rows = _stage_parquet(file, staged, findings)
            _check_groups(staged, str(file), rows)
        else:  # read whole, and checked whole (rows and groups) by read_manifest_table
            table = read_manifest_table(drop)
            findings.append(row_findings(table, file.name))
            rows = _write(table, staged)
        findings.append(rejected_findings(rejected.table, REJECTED_FILE))
        findings.append(_drop_findings(drop / DROP_QUALITY_FILE))
        pq.write_table(pa.concat_tables([FINDINGS_SCHEMA.empty_table(), *findings]), written[1])
        pq.write_table(rejected.table, written[2])
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    finally:
        pa.default_memory_pool().release_unused()  # the plan's DuckDB buffer needs it next
    return rows


def _drop_findings(file: Path) -> pa.Table:
    """The findings the drop's builder wrote (quality.parquet), in FINDINGS_SCHEMA; none if
    the drop has no such file."""
    if not file.exists():
        return FINDINGS_SCHEMA.empty_table()
    try:
        table = pq.read_table(file)
        columns = [
            table.column(f.name).cast(f.type) if f.name in table.column_names else None
            for f in FINDINGS_SCHEMA
        ]
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
        raise unreadable(file, exc) from None
    columns = [c if c is not None else pa.nulls(len(table)) for c in columns]
    return pa.Table.from_arrays(columns, schema=FINDINGS_SCHEMA)


def _stage_parquet(file: Path, staged: Path, findings: list[pa.Table]) -> int:
    """Check batches on the cores while the writer appends them, in order (Arrow frees the GIL).

    At most CHECKS_AHEAD batches are held; a broken batch raises when its turn comes, so the
    error names the first broken row, as a serial check would. Each batch's data-quality
    findings are added to `findings`.
    """
    rows, ahead = 0, deque()
    with ThreadPoolExecutor(CHECKERS) as pool, pq.ParquetWriter(staged, STAGED_SCHEMA) as writer:
        for batch in _batches(file):
            ahead.append(pool.submit(_checked, batch, file, rows))
            rows += len(batch)
            if len(ahead) > CHECKS_AHEAD:
                findings.append(_append(writer, ahead.popleft().result()))
        while ahead:
            findings.append(_append(writer, ahead.popleft().result()))
    return rows


def _append(writer: pq.ParquetWriter, checked: tuple[pa.Table, int, pa.Table]) -> pa.Table:
    table, first, found = checked
    writer.write_table(_with_row_ids(table, first), BATCH_ROWS)
    return found


def _batches(file: Path) -> Iterator[pa.Table]:
    """The file's rows in batches, starting with an empty one (the schema's own check)."""
    try:
        source = pq.ParquetFile(file)
        yield source.schema_arrow.empty_table()
        for batch in source.iter_batches(batch_size=BATCH_ROWS):
            yield pa.Table.from_batches([batch])
    except (pa.ArrowInvalid, OSError) as exc:
        raise unreadable(file, exc) from None


def _checked(batch: pa.Table, file: Path, before: int) -> tuple[pa.Table, int, pa.Table]:
    """One batch conformed, checked and its data-quality findings listed; an error names the
    row in the whole file."""
    try:
        table = manifest_rules.conform(batch, str(file))
        manifest_rules.check_rows(table, str(file))
        check_object_uris(table, str(file))
    except ManifestInvalid as exc:
        if exc.row is None or before == 0:
            raise
        raise ManifestInvalid(
            exc.file, exc.problem, row=exc.row + before, column=exc.column, fix=exc.fix
        ) from None
    return table, before, row_findings(table, file.name, before)


def _with_row_ids(table: pa.Table, first: int) -> pa.Table:
    ids = np.arange(first, first + len(table), dtype=np.int64)  # not a Python range
    return table.append_column("row_id", pa.array(ids))


def _write(table: pa.Table, staged: Path) -> int:
    pq.write_table(_with_row_ids(table, 0), staged, row_group_size=BATCH_ROWS)
    return len(table)


def _check_groups(staged: Path, file: str, rows: int) -> None:
    """The rules across rows, screened in DuckDB and named in Arrow only if something shows.

    A manifest of one batch or less is checked in Arrow straight away (a DuckDB connection
    costs more than its group-bys).
    """
    if rows > BATCH_ROWS and not screen_shows_repeats(staged):
        return
    manifest_rules.check_groups(pq.read_table(staged, columns=GROUP_COLUMNS), file)
