"""After each run: its report tables as Parquet, hive-partitioned by date, and reports.duckdb.

Every file is written under a temporary name (not matching `*.parquet`), fsynced and renamed, so
a reader sees the previous complete files or the new complete ones, never half a file. The
catalog is opened once, briefly, under its writer lock; readers never open it (DESIGN §9).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from prefect import task
from prefect.cache_policies import NO_CACHE

from spokesync.catalog import open_catalog
from spokesync.catalog.faults import kill_point
from spokesync.catalog.report_views import (
    ReportsMissing,
    open_reports,
    rebuild_views_file,
    reported_runs,
    watermark,
)
from spokesync.catalog.reports import (
    TABLES,
    ExportWindow,
    empty,
    export_run,
    typed,
    unreported_runs,
)

if TYPE_CHECKING:
    from spokesync.tasks.config import Config

TEMP_SUFFIX = ".tmp"
STALE_TEMP_SECONDS = 3600.0
UNFINGERPRINTED = "manifest row has no fingerprint: it can be matched by SOP instance UID only"
_ONLY_OWN = ExportWindow(after_seq=2**62)  # a catch-up run carries its own records only


@dataclass
class RunReport:
    """What one run's report holds: its files and row counts (counts and paths only)."""

    run_id: str
    spoke: str
    day: date
    rows: dict[str, int] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)


def write_reports(
    config: Config, run_id: str | None = None, *, wait: bool | float = True
) -> list[RunReport]:
    """Report `run_id` (re-reporting it is harmless) and every committed run that has none yet.

    Returns the RunReports written, oldest first; `run_id` None only catches up.
    """
    reported, window = _reported_state(config.reports)
    with open_catalog(config.catalog, wait=wait) as con:
        todo = [r for r in unreported_runs(con, reported) if r != run_id]
        exports = [(rid, _export(con, rid, config.policies.ownership, _ONLY_OWN)) for rid in todo]
        if run_id is not None:
            exports.append((run_id, _export(con, run_id, config.policies.ownership, window)))
    reports = [publish_run(config, rid, tables) for rid, tables in exports]
    if reports:
        rebuild_views_file(config.reports)
        clean_temporaries(config.reports)
    kill_point("reports-written")
    return reports


def _reported_state(root: Path) -> tuple[list[str], ExportWindow]:
    """The runs the reports already hold and where the next changes export starts."""
    try:
        con = open_reports(root)
    except ReportsMissing:
        return [], ExportWindow()
    try:
        seq, at = watermark(con)
        return reported_runs(con), ExportWindow(after_seq=seq, decided_since=at)
    finally:
        con.close()


def _export(con, run_id: str, policy: str, window: ExportWindow) -> dict[str, pa.Table]:
    tables = export_run(con, run_id, reported_at=datetime.now(UTC), policy=policy, window=window)
    if len(tables["runs"]) != 1:
        raise ValueError(f"run {run_id} is not in the catalog; only committed runs have reports")
    return tables


def publish_run(config: Config, run_id: str, tables: dict[str, pa.Table]) -> RunReport:
    """Add the run's discrepancies and data quality, then write every table: all temporaries
    first, then rename."""
    run = tables["runs"].to_pylist()[0]
    work = config.work / run_id
    tables = {
        **tables,
        "discrepancies": unfingerprinted(work, run),
        "data_quality": data_quality(work, run),
    }
    report = RunReport(run_id, run["spoke_id"], run["started_at"].astimezone(UTC).date())
    temps = {}
    for name in TABLES:
        final = table_path(config.reports, name, report.day, run_id)
        temps[name] = (write_temporary(tables[name], final), final)
        report.rows[name] = len(tables[name])
    # The runs row goes last: the snapshot views key on it, so a half-published run stays unseen.
    for name in sorted(temps, key=lambda n: n == "runs"):
        temp, final = temps[name]
        os.replace(temp, final)
        report.files[name] = final
    return report


def table_path(root: Path, table: str, day: date, run_id: str) -> Path:
    """`<reports>/<table>/date=<yyyy-mm-dd>/<run_id>.parquet` (hive partitioning by date)."""
    return Path(root) / table / f"date={day.isoformat()}" / f"{run_id}.parquet"


def write_temporary(table: pa.Table, final: Path) -> Path:
    """Write `table` beside `final` under a name readers ignore, synced to disk."""
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = final.with_name(f".{final.name}.{os.getpid()}{TEMP_SUFFIX}")
    with open(temp, "wb") as out:
        pq.write_table(table, out)
        out.flush()
        os.fsync(out.fileno())
    return temp


def unfingerprinted(work: Path, run: dict) -> pa.Table:
    """Manifest rows with a null fingerprint, from the run's staged manifest (DESIGN §3).

    Refused input stops a run before it commits, so no committed run has refused rows to list.
    """
    path = work / "manifest.parquet"
    if not path.exists():
        return empty("discrepancies")
    manifest = pq.read_table(path)
    rows = manifest.filter(pc.is_null(manifest.column("fingerprint")))
    found = {"kind": "unfingerprinted", "reason": UNFINGERPRINTED}
    return typed("discrepancies", _with_run(rows, run, found))


def data_quality(work: Path, run: dict) -> pa.Table:
    """The run's data-quality findings (DESIGN §2), as its staging wrote them.

    Values over their VR's limit (archived as sent), rejected objects and the studies they left
    incomplete; counts, UIDs, columns and problems only, never a value.
    """
    path = work / "data_quality.parquet"
    if not path.exists():  # a run staged before data quality was reported
        return empty("data_quality")
    return typed("data_quality", _with_run(pq.read_table(path), run, {}))


def _with_run(rows: pa.Table, run: dict, constants: dict[str, str]) -> pa.Table:
    """`rows` with the run's columns (and `constants`) appended to every row."""
    ts = pa.timestamp("us", "UTC")
    columns = {
        "report_run_id": (run["run_id"], pa.string()),
        "reported_at": (run["reported_at"], ts),
        "run_id": (run["run_id"], pa.string()),
        "spoke_id": (run["spoke_id"], pa.string()),
        **{name: (value, pa.string()) for name, value in constants.items()},
        "detected_at": (run["started_at"], ts),
    }
    for name, (value, kind) in columns.items():
        rows = rows.append_column(name, pa.array([value] * len(rows), kind))
    return rows


def clean_temporaries(root: Path, *, older_than: float = STALE_TEMP_SECONDS) -> int:
    """Remove temporaries a crashed writer left (readers never see them); a live writer's stay."""
    cutoff = time.time() - older_than
    removed = 0
    for leftover in Path(root).glob(f"**/.*{TEMP_SUFFIX}"):
        if leftover.stat().st_mtime < cutoff:
            leftover.unlink(missing_ok=True)
            removed += 1
    return removed


@task(
    name="write-reports",
    cache_policy=NO_CACHE,
    persist_result=False,
    retries=2,
    retry_delay_seconds=[5, 30],
)
def write_reports_task(config: Config, run_id: str, wait: bool | float = True) -> list[RunReport]:
    """Write the run's report files and rebuild reports.duckdb (file I/O: retried)."""
    return write_reports(config, run_id, wait=wait)
