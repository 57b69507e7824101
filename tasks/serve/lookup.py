"""What one request reads from the catalog: C-FIND matches, or the plans of the studies a
C-GET or C-MOVE sends. Each request opens the catalog once, briefly, in `catalog_for_request`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

import duckdb
from pydicom.dataset import Dataset

from spokesync.catalog import read_catalog
from spokesync.catalog import serve as catalog
from spokesync.catalog.errors import SpokesyncError
from spokesync.catalog.retrieve import StudyNotRetrievable, StudyResolution
from spokesync.tasks.retrieve.plan import StudyPlan, read_plan
from spokesync.tasks.serve.keys import KEYS, MalformedKey, Query, parse_identifier

if TYPE_CHECKING:
    from spokesync.tasks.config import Config

log = logging.getLogger("spokesync.serve")
# Associations and HTTP requests run in threads, each with its own read-only connection (DuckDB
# shares one database instance among a process's connections to a file, and reads in parallel).
# At most READERS at once, so a burst of requests cannot hold the memory of many plans; measured
# in docs/benchmarks-serve.md (1 serialises every catalog read, as before issue 20's load test).
READERS, READERS_ENV = 4, "SPOKESYNC_SERVE_READERS"
_SET = os.environ.get(READERS_ENV, "")
_READERS = threading.BoundedSemaphore(int(_SET) if _SET.isdigit() and int(_SET) else READERS)
WARM_UP_UID = "2.25.0"  # a valid UID no one issues (2.25 + the nil UUID): matches nothing


class TooManyMatches(MalformedKey):
    """A C-FIND matches more than `[serve] max_matches`; the caller should narrow it."""


@contextmanager
def catalog_for_request(config: Config) -> Iterator[duckdb.DuckDBPyConnection]:
    """The one place `spokesync serve` opens the catalog: read-only, briefly, once per request.
    It never takes the writer lock; while a run has the file open for writing the open is
    retried (catalog.connection.read_catalog), so the request waits for that commit."""
    with _READERS, read_catalog(config.catalog) as con:
        yield con


def find_matches(config: Config, query: Query) -> list[dict]:
    """The rows a C-FIND matches; an old study UID asked for answers as the study it is now."""
    limit = config.serve.max_matches
    with catalog_for_request(config) as con:
        params = query.params
        uids = params.get("study_instance_uid")
        if uids and query.level != "PATIENT":
            current = catalog.current_studies(con, uids)
            _log_resolved(current)
            params = params | {"study_instance_uid": [c.study_uid for c in current] or uids}
        rows = catalog.find(con, query.level, params, limit + 1)
    if len(rows) > limit:
        raise TooManyMatches(
            f"the {query.level} query matches more than {limit} entries ([serve] max_matches); "
            "narrow it with more keys"
        )
    return rows


def warm_up(config: Config) -> None:
    """Answer one study-level C-FIND that matches nothing before any caller asks, so the first
    caller does not wait while the catalog readers' dependencies load (about a second on a
    2-core host, measured in docs/benchmarks-serve.md). A catalog that cannot be read now is
    left for the first request to report."""
    probe = Dataset()
    probe.QueryRetrieveLevel, probe.StudyInstanceUID = "STUDY", WARM_UP_UID
    probe.NumberOfStudyRelatedInstances = probe.ModalitiesInStudy = ""
    start = time.perf_counter()
    try:
        find_matches(config, parse_identifier(probe))
    except SpokesyncError as exc:
        log.info("serve: warm-up skipped (%s)", exc)
        return
    log.info("serve: catalog readers ready in %.1f s", time.perf_counter() - start)


def retrieval_plans(config: Config, query: Query) -> list[StudyPlan]:
    """The plans of every study a C-GET or C-MOVE names, narrowed to its series or objects."""
    params = query.params
    with catalog_for_request(config) as con:
        requested = _requested_studies(con, query)
        plans = []
        for study in catalog.current_studies(con, requested):
            try:
                plan = read_plan(con, config, study.study_uid)
            except StudyNotRetrievable as exc:  # no active instance left: nothing to send
                log.info("serve: %s", exc)
                continue
            resolution = StudyResolution(study.requested, study.study_uid, study.resolved)
            plans.append(replace(plan, resolution=resolution))
    _log_resolved([p.resolution for p in plans])
    missing = sorted(set(requested) - {p.resolution.requested for p in plans})
    if missing:
        log.info("serve: no current study for %d requested UID(s): %s", len(missing), missing)
    series, sops = params.get("series_instance_uid"), params.get("sop_instance_uid")
    return [narrowed(plan, series, sops) for plan in plans]


def _requested_studies(con: duckdb.DuckDBPyConnection, query: Query) -> list[str]:
    """The study UIDs a retrieve names: its Study Instance UIDs, or a patient's studies."""
    params, level = query.params, query.level
    if level == "PATIENT":
        if not params.get("patient_id"):
            raise MalformedKey("a PATIENT level retrieve needs a Patient ID")
        return catalog.patient_studies(con, params["patient_id"])
    studies = params.get("study_instance_uid")
    if not studies:
        raise MalformedKey(f"a {level} level retrieve needs a Study Instance UID")
    unique = {"SERIES": "SeriesInstanceUID", "IMAGE": "SOPInstanceUID"}.get(level)
    if unique and not params.get(KEYS[unique].column):
        raise MalformedKey(f"a {level} level retrieve needs its unique key {unique}")
    return studies


def narrowed(plan: StudyPlan, series: list[str] | None, sops: list[str] | None) -> StudyPlan:
    """The plan with only the requested series and objects, asked by current or old UID."""
    study = plan.resolution.study_uid

    def now(uids: list[str]) -> set[str]:
        return {plan.uid_map.resolve(uid, study) for uid in uids} | set(uids)

    keep_series, keep_sops = (now(series) if series else None), (now(sops) if sops else None)
    instances = [
        inst
        for inst in plan.instances
        if (keep_series is None or inst.series_instance_uid in keep_series)
        and (keep_sops is None or inst.sop_instance_uid in keep_sops)
    ]
    return replace(plan, instances=instances)


def _log_resolved(current) -> None:
    for study in current:
        if study.resolved:
            log.info("serve: old study UID %s resolved to %s", study.requested, study.study_uid)
