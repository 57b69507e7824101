"""A spoke run that failed leaves a row in the runs report (status `failed`, the error's class
and first line) and a Prefect artifact, so `spokesync report runs` and the Prefect UI show the
night's failures beside its successes. Counts, UIDs and error text only: the run committed
nothing, so the row carries no catalog figures."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow as pa

from spokesync.catalog.report_views import has_reports, rebuild_views_file
from spokesync.catalog.reports import SCHEMAS
from spokesync.tasks.reports.summary import artifact_key
from spokesync.tasks.reports.tables import table_path, write_temporary

if TYPE_CHECKING:
    from pathlib import Path

    from spokesync.tasks.config import Config

log = logging.getLogger(__name__)
FAILED_SCHEMA = SCHEMAS["runs"].append(pa.field("error", pa.string()))
MOST = 500  # characters of the error kept: what, where and the fix, never a whole dump


def failure_text(exc: BaseException) -> str:
    """`ManifestInvalid: drops/north/manifest.parquet, row 3, …` (first line, bounded)."""
    first = (str(exc).splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first[:MOST]}"


def failed_run_row(spoke: str, run_id: str, started: datetime, error: str) -> dict:
    now = datetime.now(UTC)
    return {
        "report_run_id": run_id, "reported_at": now, "run_id": run_id, "spoke_id": spoke,
        "status": "failed", "started_at": started, "finished_at": now,
        "duration_seconds": (now - started).total_seconds(), "error": error,
    }  # fmt: skip


def write_failed_run(config: Config, spoke: str, started: datetime, error: str) -> Path:
    """The failed run's row as its own runs file, written and renamed like every report file."""
    run_id = f"{spoke}-{started:%Y%m%dT%H%M%S}-failed"
    table = pa.Table.from_pylist([failed_run_row(spoke, run_id, started, error)], FAILED_SCHEMA)
    final = table_path(config.reports, "runs", started.date(), run_id)
    os.replace(write_temporary(table, final), final)
    if has_reports(config.reports):
        rebuild_views_file(config.reports)
    return final


def publish_failure(spoke: str, started: datetime, error: str) -> None:
    from prefect.artifacts import create_markdown_artifact

    create_markdown_artifact(
        markdown=f"# {spoke}: run failed\n\nstarted {started:%Y-%m-%d %H:%M} UTC\n\n`{error}`\n",
        key=artifact_key(spoke, "failed"),
        description=f"spokesync run of {spoke} failed",
    )


def record_failure(config: Config, spoke: str, started: datetime, error: str) -> None:
    """Report and publish a failed run; a failure to record it is logged, never raised (the
    run's own error is what the caller must see)."""
    try:
        write_failed_run(config, spoke, started, error)
        publish_failure(spoke, started, error)
    except Exception as exc:  # noqa: BLE001 - the original error matters more
        log.warning("could not record the failed run of %s: %s", spoke, failure_text(exc))
