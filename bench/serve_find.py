"""C-FIND latency of `spokesync serve` over a synthetic catalog (bench/synthetic.py), one client
and several at once: what bench/serve.py reports as (a) and as the concurrency figure.

The synthetic catalog's stored objects point at TAR members that do not exist, so only C-FIND
(and a C-GET's plan, never its bytes) can run over it; throughput figures use a real hub.
"""

from __future__ import annotations

import statistics
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
from pydicom.dataset import Dataset
from pynetdicom import AE
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FIND

from bench.sqlblocks import run

KINDS = ("patient_id", "study_uid", "date_range", "name_wildcard")


def sample_queries(catalog: Path, count: int) -> list[tuple[str, dict]]:
    """`count` study-level C-FIND keys, the four kinds in turn, from studies in the catalog."""
    con = duckdb.connect(str(catalog), read_only=True)
    try:
        rows = run(con, "serve.sql", "find_samples", {"n": count}).fetchall()
    finally:
        con.close()
    queries = []
    for number, (study, patient, day, name) in enumerate(rows):
        kind = KINDS[number % len(KINDS)]
        if kind == "patient_id":
            keys = {"PatientID": patient}
        elif kind == "study_uid":
            keys = {"StudyInstanceUID": study}
        elif kind == "date_range":
            first = date.fromisoformat(f"{day[:4]}-{day[4:6]}-{day[6:8]}")
            keys = {"StudyDate": f"{day}-{(first + timedelta(days=2)).strftime('%Y%m%d')}"}
        else:  # the name but its last letter, then a wildcard, in lower case: a viewer's prefix
            keys = {"PatientName": str(name)[:-1].lower() + "*"}
        queries.append((kind, keys))
    return queries


def _identifier(keys: dict) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    for keyword in ("StudyInstanceUID", "PatientID", "PatientName", "StudyDate",
                    "NumberOfStudyRelatedInstances", "ModalitiesInStudy"):  # fmt: skip
        setattr(ds, keyword, keys.get(keyword, ""))
    return ds


def timed_finds(port: int, hub: str, aet: str, queries: list, out: list, errors: list) -> None:
    """Run `queries` over one association; append (kind, seconds, matches, query) to `out`."""
    ae = AE(ae_title=aet)
    ae.add_requested_context(FIND)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 300
    assoc = ae.associate("127.0.0.1", port, ae_title=hub)
    if not assoc.is_established:
        errors.append(f"{aet}: association not established")
        return
    try:
        for number, (kind, keys) in enumerate(queries):
            start = time.perf_counter()
            answers = list(assoc.send_c_find(_identifier(keys), FIND))
            seconds = time.perf_counter() - start
            final = answers[-1][0] if answers else None
            if final is None or final.Status != 0x0000:
                errors.append(f"{kind}: status {final and hex(final.Status)}")
            out.append((kind, seconds, len(answers) - 1, number))
    finally:
        assoc.release()


def percentiles(seconds: list[float]) -> dict:
    """Median and 95th percentile in milliseconds."""
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median_ms": round(statistics.median(ordered) * 1000, 1),
            "p95_ms": round(p95 * 1000, 1), "queries": len(ordered)}  # fmt: skip


def find_latency(port: int, hub: str, aets: list[str], queries: list, clients: int) -> dict:
    """Every client runs all `queries` at once over its own association: latency per kind and
    overall, matches per kind, queries per second, errors."""
    out: list = []
    errors: list = []
    threads = [
        threading.Thread(
            target=timed_finds, args=(port, hub, aets[n % len(aets)], queries, out, errors)
        )  # fmt: skip
        for n in range(clients)
    ]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    result = {"clients": clients, "errors": errors, "queries_per_second": len(out) / wall,
              "all": percentiles([s for _, s, _, _ in out]),
              "matches": sorted({(q, m) for _, _, m, q in out})}  # fmt: skip
    for kind in KINDS:
        mine = [(s, m) for k, s, m, _ in out if k == kind]
        if mine:
            result[kind] = percentiles([s for s, _ in mine]) | {
                "median_matches": statistics.median(m for _, m in mine)
            }
    return result
