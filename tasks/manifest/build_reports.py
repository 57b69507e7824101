"""What `spokesync manifest build` writes beside the manifest: rejected.parquet (and .csv) for
the files it could not use, quality.parquet for what is off about the objects it kept."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from spokesync.tasks.manifest.drop_write import shown, write_text
from spokesync.tasks.manifest.quality import DROP_QUALITY_FILE as QUALITY_FILE
from spokesync.tasks.manifest.quality import FINDINGS_SCHEMA, REJECTED_SCHEMA

if TYPE_CHECKING:
    from spokesync.tasks.manifest.build import Scanned


def write_rejected(rejected: list[Scanned], out: Path) -> Path:
    """Write rejected.parquet (REJECTED_SCHEMA: path, reason and the identity read) and
    rejected.csv (path, reason) into `out`, even when nothing was rejected."""
    rows = [
        {
            "path": shown(item.relative),
            "reason": item.reason,
            **{name: item.identity.get(name) for name in REJECTED_SCHEMA.names[2:]},
        }
        for item in rejected
    ]
    partial = Path(out) / f".rejected.parquet.{os.getpid()}.part"
    pq.write_table(pa.Table.from_pylist(rows, schema=REJECTED_SCHEMA), partial)
    os.replace(partial, Path(out) / "rejected.parquet")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "reason"])
    writer.writerows([row["path"], row["reason"]] for row in rows)
    target = Path(out) / "rejected.csv"
    write_text(target, buffer.getvalue())
    return target


def write_quality(kept: Iterable[Scanned], out: Path) -> Path:
    """Write quality.parquet (FINDINGS_SCHEMA): what is off about objects the drop keeps, which
    the hub adds to its run's data-quality report (the value of a term, never a name)."""
    rows = [
        {
            "kind": "unknown_character_set",
            "file": QUALITY_FILE,
            "path": shown(item.relative),
            "sop_instance_uid": (item.row or {}).get("sop_instance_uid"),
            "study_instance_uid": (item.row or {}).get("study_instance_uid"),
            "column": "SpecificCharacterSet",
            "problem": f"character set {term!r} is unknown to the hub: archived as sent, its "
            "text read with the default character set",
        }
        for item in kept
        for term in item.charsets
    ]
    target = Path(out) / QUALITY_FILE
    pq.write_table(pa.Table.from_pylist(rows, schema=FINDINGS_SCHEMA), target)
    return target
