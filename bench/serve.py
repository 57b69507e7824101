"""Figures of `spokesync serve` (issue 20): C-FIND latency over a large catalog, WADO-RS and
C-MOVE throughput beside their baselines, and eight clients at once.

    .venv/bin/python -m bench.serve [--catalog 1M] [--instances 500] [--runs 3] [--seconds 60]
                                    [--readers 1,4] [--work var/bench] [--parts find,move,load]

(a) study-level C-FIND latency (median, p95) over a synthetic catalog of `--catalog` instances
    (bench/synthetic.py, cached under --work), 48 queries of four kinds (Patient ID, Study UID,
    a three-day date range, a wildcard name), one client and four at once;
(b) WADO-RS and C-GET (one pynetdicom client) of a real study of `--instances` CT objects
    (bench/retrieve.py builds and corrects it Orthanc-style, so every object is edited) beside
    a bare read of the same TAR members;
(c) C-MOVE of that study into a real Orthanc (Debian's, loopback, free ports, temp storage,
    stopped by PID) beside `retrieve_study(..., to=)`, what `spokesync retrieve --to` runs,
    into the same Orthanc (no interpreter or Prefect start counted);
(d) eight clients (tests/support/serve_load.py: C-FIND + C-GET, QIDO-RS + WADO-RS) for
    `--seconds`: requests/s, MB/s, errors, the server's RSS before, at peak and after.
(a) and (d) run once per `--readers` value (SPOKESYNC_SERVE_READERS: catalog reads at once).
`--parts` picks what runs: `find` is (a), `move` is (b) and (c), `load` is (d) (all by default).
Every server runs as `spokesync serve` in its own process. Results: <work>/results/serve.json
and serve.md, copied by hand into docs/benchmarks-serve.md.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from bench import retrieve as bench_retrieve
from bench.serve_find import find_latency, sample_queries
from bench.serve_report import write_markdown
from bench.synthetic import ensure_catalog
from bench.timing import machine, write_result
from spokesync.tasks.config import init_config, load_config, read_document, write_document
from tests.support.serve import spokesync_command, start
from tests.support.serve_load import (
    Study,
    Tally,
    Target,
    _dimse_ae,
    _dimse_round,
    rss_kib,
    run_load,
    write_during_load,
)

HUB_AET, VIEWERS = "SPOKESYNC", ["BENCH1", "BENCH2", "BENCH3", "BENCH4"]
USER, PASSWORD = "bench", "bench-pass"
ENV = {"BENCH_WEB_USER": USER, "BENCH_WEB_PASSWORD": PASSWORD}
QUERIES = 48  # twelve of each kind


def configure(file: Path, port: int, web_port: int, **extra) -> None:
    """Write the `[serve]` section (and a catalog path) into a hub's spokesync.toml."""
    document = read_document(file)
    if "catalog" in extra:
        document["catalog"]["path"] = str(Path(extra.pop("catalog")).absolute())
    document["serve"] = {
        "ae_title": HUB_AET, "port": port, "calling_aets": VIEWERS,
        "dicomweb": {"port": web_port, "username_env": "BENCH_WEB_USER",
                     "password_env": "BENCH_WEB_PASSWORD"},
    } | extra  # fmt: skip
    write_document(file, document)


@contextmanager
def serving(file: Path, web_port: int, log: Path, readers: int):
    """`spokesync serve` in its own process until the block ends; stopped by PID."""
    env = ENV | {"SPOKESYNC_SERVE_READERS": str(readers)}
    command = [str(spokesync_command()), "serve", "--config", str(file)]
    proc = start(command, log, web_port, timeout=300, env=env)
    try:
        yield proc
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)


def load_1min() -> float:
    return round(os.getloadavg()[0], 2)


def find_figures(work: Path, instances: int, readers: list[int]) -> dict:
    """(a): C-FIND latency over the synthetic catalog, per readers value, 1 and 4 clients."""
    catalog = ensure_catalog(work, instances) / "catalog.duckdb"
    queries = sample_queries(catalog, QUERIES)
    hub = work / "serve-find-hub"
    file = init_config(hub)
    port, web_port = bench_retrieve.free_port(), bench_retrieve.free_port()
    configure(file, port, web_port, catalog=catalog, max_matches=100_000)
    found = {}
    for count in readers:
        with serving(file, web_port, hub / "serve.log", count):
            find_latency(port, HUB_AET, VIEWERS, queries, 1)  # untimed: file and caches warm
            found[count] = {
                clients: find_latency(port, HUB_AET, VIEWERS, queries, clients)
                | {"load_1min": load_1min()}
                for clients in (1, 4)
            }
    answers = {json.dumps(r.pop("matches")) for by in found.values() for r in by.values()}
    assert len(answers) == 1, "a query matched differently with more readers or more clients"
    return found


def real_hub(work: Path, instances: int) -> tuple[dict, Target]:
    """bench/retrieve.py's corrected studies (`instances` and 200 CT objects, one patient) and
    what clients ask for."""
    import simulator as sim
    from spokesync.catalog import open_catalog
    from spokesync.catalog.review import approve, open_reviews

    prepared = bench_retrieve.prepare(work, instances)
    # bench/retrieve.py leaves the Orthanc-style re-identification pending review: approved
    # here (once), so the studies are the corrected drop's and every object is edited on the way
    with open_catalog(load_config(Path(prepared["config"])).catalog) as con:
        for record in open_reviews(con):
            approve(con, record["seq"], by="bench")
    rows = sim.manifest_of(work / "corrected").to_pylist()
    studies = {}
    for row in rows:
        uid = row["study_instance_uid"]
        studies[uid] = Study(uid, row["patient_id"], studies.get(uid, Study(uid, "", 0)).instances
                             + 1)  # fmt: skip
    target = Target(0, HUB_AET, "", (USER, PASSWORD), sorted(studies.values(), key=lambda s:
                    -s.instances), sorted({(r["sop_class_uid"], r["transfer_syntax_uid"])
                                           for r in rows}))  # fmt: skip
    return prepared, target


def bare_read(config_file: Path, study: str) -> dict:
    """Read the study's TAR members (seek to each object's offset, read its size), as stored."""
    from spokesync.catalog import read_catalog
    from spokesync.tasks.retrieve.plan import read_plan, tar_of

    config = load_config(config_file)
    with read_catalog(config.catalog) as con:
        plan = read_plan(con, config, study)
    start, size = time.perf_counter(), 0
    for inst in plan.instances:
        with open(tar_of(inst), "rb") as tar:
            tar.seek(inst.data_offset)
            size += len(tar.read(inst.size))
    return {"seconds": time.perf_counter() - start, "bytes": size}


def wado_figures(url: str, config_file: Path, target: Target, runs: int) -> list[dict]:
    """(b): one WADO-RS GET and one C-GET of the whole study per run, beside the bare read of
    its members."""
    import requests

    from tests.support.serve_load import WADO_ACCEPT

    study, rows = target.studies[0], []
    c_get(target, study)  # untimed: the server's first request imports and compiles its readers
    for _ in range(runs):
        bare = bare_read(config_file, study.uid)
        start = time.perf_counter()
        answer = requests.get(f"{url}/studies/{study.uid}", auth=(USER, PASSWORD),
                              headers={"Accept": WADO_ACCEPT}, timeout=600)  # fmt: skip
        seconds = time.perf_counter() - start
        assert answer.status_code == 200, answer.text[:500]
        rows.append({"wado_seconds": seconds, "wado_bytes": len(answer.content),
                     "bare_seconds": bare["seconds"], "bare_bytes": bare["bytes"],
                     **c_get(target, study), "load_1min": load_1min()})  # fmt: skip
    return rows


def c_get(target: Target, study: Study) -> dict:
    """Seconds and bytes of one association's C-FIND and C-GET of the study (one client)."""
    tally = Tally("bench")
    start = time.perf_counter()
    objects = _dimse_round(_dimse_ae(VIEWERS[0], target), target, study, tally)
    seconds = time.perf_counter() - start
    assert not tally.errors and len(objects) == study.instances, tally.errors
    return {"get_seconds": seconds, "get_bytes": tally.received_bytes}


def load_figures(target: Target, proc, seconds: float, folder: Path, catalog: Path) -> dict:
    """(d): eight clients for `seconds`; requests/s, MB/s, errors, the server's RSS, and how
    long a writer waited for the catalog halfway through."""
    time.sleep(2)
    before = rss_kib(proc.pid)
    with ThreadPoolExecutor(1) as pool:
        writer = pool.submit(write_during_load, catalog, seconds / 2)
        load = run_load(target, proc.pid, 8, seconds, folder, VIEWERS)
    warm = load.warmed_up()
    time.sleep(2)
    after = rss_kib(proc.pid)
    total = sum(t.requests for t in load.tallies)
    received = sum(t.received_bytes for t in load.tallies)
    return {
        "seconds": round(load.seconds, 1), "requests": total,
        "requests_per_second": total / load.seconds,
        "studies_per_second": sum(t.retrieved for t in load.tallies) / load.seconds,
        "mb_per_second": received / 1e6 / load.seconds,
        "errors": sum(t.failures for t in load.tallies),
        "first_errors": [e for t in load.tallies for e in t.errors][:5],
        "rss_mib": {"before": before // 1024, "peak": max(k for _, k in load.rss) // 1024,
                    "after": after // 1024, "warm_up_seconds": round(warm, 1),
                    "at_warm_up": next(k for at, k in load.rss if at >= warm) // 1024},
        "writer_waited_seconds": round(writer.result(), 2),
        "load_1min": load_1min(),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", default="1M", help="synthetic catalog size for C-FIND")
    parser.add_argument("--instances", type=int, default=500, help="objects of the real study")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60, help="the eight-client load")
    parser.add_argument("--readers", default="1,4", help="SPOKESYNC_SERVE_READERS values")
    parser.add_argument("--work", type=Path, default=Path("var/bench"))
    parser.add_argument("--parts", default="find,move,load", help="find, move (b and c), load")
    args = parser.parse_args()
    args.work = args.work.absolute()  # Orthanc runs in its own folder
    from bench.shape import parse_count

    readers, parts = [int(r) for r in args.readers.split(",")], args.parts.split(",")
    document = {"machine": machine(), "args": {k: str(v) for k, v in vars(args).items()},
                "find": {}, "move": [], "wado": [], "load": {}}  # fmt: skip
    if "find" in parts:
        document["find"] = find_figures(args.work, parse_count(args.catalog), readers)
        write_result(args.work, "serve", document)  # kept if a later part fails
    if {"move", "load"} & set(parts):
        document |= hub_figures(args, readers, parts)
    write_result(args.work, "serve", document)
    markdown = write_markdown(document)
    (args.work / "results" / "serve.md").write_text(markdown)
    print(markdown)


def hub_figures(args, readers: list[int], parts: list[str]) -> dict:
    """(b), (c) and (d) over the real hub of `--instances` objects."""
    from bench.serve_move import move_figures

    real = args.work / f"serve-hub-{args.instances}"
    prepared, target = real_hub(real, args.instances)
    config_file = Path(prepared["config"]).absolute()
    found = {"move": [], "wado": [], "load": {}}
    if "move" in parts:
        found |= move_figures(real, config_file, target, args.runs)
    port, web_port = bench_retrieve.free_port(), bench_retrieve.free_port()
    configure(config_file, port, web_port)
    url = f"http://127.0.0.1:{web_port}/dicom-web"
    served = Target(port, HUB_AET, url, (USER, PASSWORD), target.studies, target.stored)
    for count in readers if "load" in parts else readers[-1:]:
        with serving(config_file, web_port, real / "serve.log", count) as proc:
            if count == readers[-1] and "move" in parts:
                found["wado"] = wado_figures(url, config_file, served, args.runs)
            if "load" in parts:
                kept = real / f"kept-{count}-{time.time_ns()}"
                catalog = load_config(config_file).catalog
                found["load"][count] = load_figures(served, proc, args.seconds, kept, catalog)
    return found


if __name__ == "__main__":
    main()
