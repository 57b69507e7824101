"""The apply-review flow: a person's decision on a pending record, for deployments."""

from __future__ import annotations

import csv
import getpass
import logging
from pathlib import Path

from prefect import flow, get_run_logger

from spokesync.catalog import open_catalog
from spokesync.catalog.review import approve, latest_committed_run, reject
from spokesync.tasks.config import Config, load_config
from spokesync.tasks.reports.failed_runs import failure_text
from spokesync.tasks.reports.tables import write_reports

log = logging.getLogger("spokesync.review")


def read_pairing(file: Path) -> list[tuple[str, str]]:
    """A pairing CSV with header old_sop_uid,new_sop_uid (one line per catalog instance)."""
    with Path(file).open(newline="", encoding="utf-8") as stream:
        return [
            (row["old_sop_uid"].strip(), row["new_sop_uid"].strip())
            for row in csv.DictReader(stream)
        ]


def decide(
    config_file: str | None,
    seq: int,
    decision: str,
    *,
    reason: str = "",
    by: str | None = None,
    pairing_file: str | None = None,
    wait: bool = True,
) -> dict:
    """Approve or reject record `seq`; every decision becomes a new cc record."""
    config = load_config(Path(config_file) if config_file else None)
    by = by or getpass.getuser()
    pairing = read_pairing(Path(pairing_file)) if pairing_file else None
    with open_catalog(config.catalog, wait=wait) as con:
        if decision == "approve":
            result = approve(con, seq, by=by, reason=reason, pairing=pairing)
        elif decision == "reject":
            if not reason:
                raise ValueError("a rejection needs --reason TEXT")
            result = reject(con, seq, by=by, reason=reason)
        else:
            raise ValueError(f"decision {decision!r}: use approve or reject")
        latest = latest_committed_run(con)
    refresh_reports(config, latest, wait)
    return {"seq": seq, "decision": decision, "record": result.seq, "moved": result.moved, "by": by}


def refresh_reports(config: Config, run_id: str | None, wait: bool) -> None:
    """Re-report the newest committed run (its files are replaced), so `report pending-review`
    and `report changes` carry the decision at once, from the CLI and the deployment alike. The
    decision is committed already: a failure here is logged, and the next run or `spokesync
    report refresh` catches up."""
    if run_id is None:
        return
    try:
        write_reports(config, run_id, wait=wait)
    except Exception as exc:  # noqa: BLE001 - the decision stands; only its report waits
        log.warning("reports not refreshed after the decision: %s", failure_text(exc))


@flow(name="apply-review")
def apply_review(
    seq: int,
    decision: str,
    reason: str = "",
    by: str | None = None,
    pairing_file: str | None = None,
    config_file: str | None = None,
) -> dict:
    """Apply a review decision (approve or reject) to pending record `seq`."""
    result = decide(config_file, seq, decision, reason=reason, by=by, pairing_file=pairing_file)
    get_run_logger().info(
        "record %d %s as record %d (%d instances moved)",
        seq,
        decision,
        result["record"],
        result["moved"],
    )
    return result
