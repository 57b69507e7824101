"""Manifest pull from a real Orthanc over DICOMweb and over DIMSE, beside the bare protocol.

    .venv/bin/python -m bench.pull [--sizes 1000,10000] [--runs 3] [--work var/bench/pull]

Per size, starts Debian's Orthanc on loopback (free ports, storage under --work), stores that
many small CT images (studies of 50 in five series), archives them once into a hub over each
protocol, then times, each repetition in its own fresh process:

- `quiet`: the nightly pull against an unchanged PACS (`pull_spoke`: list every study, look the
  SOP UIDs up in the catalog, fetch nothing) — what a quiet night costs;
- `bare`: the same listing with the bare protocol only (QIDO-RS JSON via requests, or C-FIND
  via pynetdicom), no manifest, no catalog — the floor any client pays;
- `bare_full`: the bare listing, then the same instances fetched with the bare protocol only
  (WADO-RS per series on `fetch_workers` threads, or C-GET per study on one association),
  written as received — the first-night floor;
- `full`: `manifest pull --all-objects` (list and fetch every object with WADO-RS or C-GET).

It also counts the objects a quiet re-run downloads (WADO-RS requests / C-STORE
sub-operations), which must be 0. Issue 19's target: `full` within 1.3x of `bare_full`.
Results: docs/benchmarks-pull.md and --work/results.json. The lead's full-size run:

    .venv/bin/python -m bench.pull --sizes 10000 --runs 1
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from pydicom import examples

STUDY_SIZE, SERIES_PER_STUDY = 50, 5
REPORT = Path("docs/benchmarks-pull.md")
PROTOCOLS = ("dicomweb", "dimse")
MODES = ("bare", "quiet", "bare_full", "full")
TARGET = 1.3  # issue 19: a first-night pull within 1.3x of the bare protocol's list + fetch


def synthetic_objects(count: int) -> list[bytes]:
    """`count` 32x32 CT images, distinct UIDs and pixels, as Part 10 bytes."""
    import io

    from simulator.samples import derived_uid

    base = copy.deepcopy(examples.ct)
    base.Rows = base.Columns = 32
    out = []
    for n in range(count):
        ds = copy.deepcopy(base)
        study = derived_uid(f"bench-pull|study-{n // STUDY_SIZE}")
        series = (n % STUDY_SIZE) // (STUDY_SIZE // SERIES_PER_STUDY)
        ds.PatientID, ds.PatientName = f"BP-{n // (STUDY_SIZE * 4):05d}", "FAKE^PULL"
        ds.StudyInstanceUID, ds.AccessionNumber = study, f"BP{n // STUDY_SIZE:06d}"
        ds.SeriesInstanceUID = derived_uid(f"{study}|series-{series}")
        ds.SeriesNumber, ds.InstanceNumber = series + 1, n % STUDY_SIZE + 1
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = derived_uid(f"bp|{n}")
        ds.PixelData = np.full(32 * 32, n % 65536, dtype="<u2").tobytes()
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        out.append(buffer.getvalue())
    return out


def load(orthanc, count: int) -> float:
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda data: store(orthanc, data), synthetic_objects(count)))
    return time.monotonic() - started


def store(orthanc, data: bytes, attempts: int = 3) -> None:
    """POST one object; a loaded machine makes Orthanc drop a kept-alive connection now and
    then, so a dropped one is sent again (storing an object twice changes nothing)."""
    import requests

    for attempt in range(attempts):
        try:
            orthanc.rest("POST", "/instances", data=data)
            return
        except requests.ConnectionError:
            if attempt == attempts - 1:
                raise


def measure(mode: str, hub: Path, protocol: str, out: Path) -> dict:
    """One repetition in this process (called through `--one`)."""
    from spokesync.tasks.config import load_config
    from spokesync.tasks.spokes.hub import pull_spoke

    config = load_config(hub / "spokesync.toml")
    warm_imports()
    started = time.monotonic()
    if mode == "bare":
        listed = bare_listing(config.spokes["north"])
        return {"seconds": time.monotonic() - started, "instances": len(listed)}
    if mode == "bare_full":
        listed = bare_listing(config.spokes["north"])
        fetched = bare_fetch(config.spokes["north"], listed, out)
        return {"seconds": time.monotonic() - started, "instances": len(listed),
                "fetched": fetched}  # fmt: skip
    result = pull_spoke(config, "north", out, fetch_all=mode == "full")
    return {
        "seconds": time.monotonic() - started,
        "instances": result.instances,
        "fetched": result.fetched,
    }


def warm_imports() -> None:
    """Import what a pull imports lazily before the clock starts: a nightly worker has them
    loaded, and where bytecode is not cached (PYTHONDONTWRITEBYTECODE) compiling them would
    cost seconds that have nothing to do with pulling."""
    import pyarrow.parquet  # noqa: F401
    import requests  # noqa: F401

    import spokesync.catalog.known  # noqa: F401
    import spokesync.tasks.manifest.fingerprints  # noqa: F401
    import spokesync.tasks.spokes.dicomweb  # noqa: F401
    import spokesync.tasks.spokes.dimse  # noqa: F401


def bare_listing(spoke) -> list[tuple[str, str, str]]:
    """List every instance with nothing but the protocol: the floor for `quiet`.
    Returns (study, series, SOP class) per instance, what a bare fetch needs."""
    from spokesync.tasks.spokes.source import TRACKED_KEYWORDS

    if spoke.source == "dicomweb":
        session = bare_session(spoke)
        studies = session.get(f"{spoke.url}/studies", params={"limit": 100000}).json()
        fields = {"includefield": list(TRACKED_KEYWORDS)}
        return [
            (s["0020000D"]["Value"][0], i["0020000E"]["Value"][0], i["00080016"]["Value"][0])
            for s in studies
            for i in session.get(f"{spoke.url}/studies/{s['0020000D']['Value'][0]}/instances",
                                 params=fields).json()
        ]  # fmt: skip
    return bare_c_find(spoke, TRACKED_KEYWORDS)


def bare_session(spoke):
    import requests

    session = requests.Session()
    session.auth = (os.environ[spoke.username_env], os.environ[spoke.password_env])
    return session


def bare_c_find(spoke, keywords) -> list[tuple[str, str, str]]:
    """C-FIND STUDY, then IMAGE per study with the same return keys, on one association."""
    from pydicom.dataset import Dataset
    from pynetdicom import AE
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FIND

    ae = AE(ae_title=spoke.calling_aet)
    ae.add_requested_context(FIND)
    assoc = ae.associate(spoke.host, spoke.port, ae_title=spoke.called_aet)
    query = Dataset()
    query.QueryRetrieveLevel, query.StudyInstanceUID = "STUDY", ""
    studies = [i.StudyInstanceUID for _, i in assoc.send_c_find(query, FIND) if i is not None]
    found = []
    for study in studies:
        query = Dataset()
        query.QueryRetrieveLevel = "IMAGE"
        for keyword in keywords:
            setattr(query, keyword, "")
        query.StudyInstanceUID = study
        found += [(study, i.SeriesInstanceUID, i.SOPClassUID)
                  for _, i in assoc.send_c_find(query, FIND) if i is not None]  # fmt: skip
    assoc.release()
    return found


def bare_fetch(spoke, listed: list[tuple[str, str, str]], out: Path) -> int:
    """Fetch every listed instance with nothing but the protocol, into `out` as received:
    WADO-RS per series on fetch_workers threads (the window the pull uses), or C-GET per study
    on one association. Returns the objects received."""
    out.mkdir(parents=True, exist_ok=True)
    if spoke.source == "dicomweb":
        return bare_wado(spoke, sorted({(study, series) for study, series, _ in listed}), out)
    return bare_c_get(spoke, listed, out)


def bare_wado(spoke, series: list[tuple[str, str]], out: Path) -> int:
    """Each series' multipart answer written to one file as it arrives; parts counted."""
    import threading

    local = threading.local()
    accept = {"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'}

    def get(study_series: tuple[str, str]) -> int:
        local.session = getattr(local, "session", None) or bare_session(spoke)
        study, uid = study_series
        url = f"{spoke.url}/studies/{study}/series/{uid}"
        with local.session.get(url, headers=accept, stream=True, timeout=120) as answer:
            answer.raise_for_status()
            boundary = answer.headers["Content-Type"].split("boundary=")[1].split(";")[0]
            data = b"".join(answer.iter_content(1 << 16))
        (out / f"{uid}.multipart").write_bytes(data)
        return data.count(b"--" + boundary.strip('"').encode()) - 1

    with ThreadPoolExecutor(spoke.fetch_workers) as pool:
        return sum(pool.map(get, series))


def bare_c_get(spoke, listed: list[tuple[str, str, str]], out: Path) -> int:
    """C-GET STUDY per study on one association; each C-STORE's dataset written as received.
    The same socket tuning and pynetdicom settings as the hub's, so only spokesync differs."""
    from pydicom.dataset import Dataset
    from pynetdicom import AE, build_role, evt
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet as GET

    import spokesync.tasks.spokes.dimse  # noqa: F401 (its pynetdicom logging settings)
    from spokesync.tasks.retrieve.dimse_send import tune_for_throughput

    received = []

    def on_store(event) -> int:
        path = out / f"{event.request.AffectedSOPInstanceUID}.dcm"
        path.write_bytes(event.encoded_dataset(include_meta=True))
        received.append(path)
        return 0x0000

    classes = sorted({sop_class for _, _, sop_class in listed})
    ae = AE(ae_title=spoke.calling_aet)
    ae.add_requested_context(GET)
    for sop_class in classes:
        ae.add_requested_context(sop_class)
    assoc = ae.associate(spoke.host, spoke.port, ae_title=spoke.called_aet,
                         ext_neg=[build_role(c, scp_role=True) for c in classes],
                         evt_handlers=[(evt.EVT_C_STORE, on_store)])  # fmt: skip
    tune_for_throughput(assoc)
    for study in sorted({study for study, _, _ in listed}):
        query = Dataset()
        query.QueryRetrieveLevel, query.StudyInstanceUID = "STUDY", study
        for _status, _identifier in assoc.send_c_get(query, GET):
            pass
    assoc.release()
    return len(received)


def repeat(mode: str, hub: Path, protocol: str, work: Path, runs: int) -> dict:
    """`runs` fresh processes; the median time and the last run's counts."""
    found = []
    for n in range(runs):
        out = work / f"pulled-{protocol}-{mode}-{n}"
        subprocess.run(["rm", "-rf", str(out)], check=True)
        line = subprocess.run(
            [sys.executable, "-m", "bench.pull", "--one", mode, str(hub), protocol, str(out)],
            check=True, capture_output=True, text=True,
        ).stdout.strip().splitlines()[-1]  # fmt: skip
        found.append({**json.loads(line), "load": round(os.getloadavg()[0], 2)})
    return {**found[-1], "seconds": statistics.median(f["seconds"] for f in found),
            "all_seconds": [round(f["seconds"], 3) for f in found],
            "loads": [f["load"] for f in found]}  # fmt: skip


def bench_size(count: int, runs: int, work: Path) -> dict:
    from spokesync.tasks.reconcile.run import run_spoke
    from tests.support.orthanc import PASSWORD, USER, Orthanc
    from tests.support.pacs import pacs_hub

    os.environ.update(NORTH_PACS_USER=USER, NORTH_PACS_PASSWORD=PASSWORD)
    folder = work / f"size-{count}"
    subprocess.run(["rm", "-rf", str(folder)], check=True)
    orthanc = Orthanc(folder / "orthanc").start()
    try:
        figures = {"instances": count, "load_seconds": load(orthanc, count)}
        for protocol in PROTOCOLS:
            hub = folder / f"hub-{protocol}"
            paging = {"page_size": 1000} if protocol == "dicomweb" else {}
            config = pacs_hub(hub, orthanc, protocol, timeout_seconds=120, **paging)
            first = run_spoke(config, "north")
            quiet = run_spoke(config, "north")
            figures[protocol] = {
                "first_archive_fetched": first["fetched"],
                "quiet_rerun_fetched": quiet["fetched"],
                **{mode: repeat(mode, hub, protocol, folder, runs)
                   for mode in MODES},
            }  # fmt: skip
        return figures
    finally:
        orthanc.stop()


LABELS = {"dicomweb": ("DICOMweb", "QIDO-RS + WADO-RS per series"),
          "dimse": ("DIMSE", "C-FIND + C-GET per study")}  # fmt: skip


def report(results: list[dict], machine: dict, runs: int) -> str:
    lines = [
        "# Benchmarks: manifest pull from a PACS",
        "",
        f"`.venv/bin/python -m bench.pull --sizes {machine['sizes']} --runs {runs}` against "
        f"Debian's Orthanc {machine['orthanc']} on loopback, measured {machine['date']} on "
        f"{machine['cpus']} cores, Python {machine['python']}. Medians of {runs} fresh "
        "process(es); seconds; the 1-minute load average after each repetition in brackets.",
        "",
        "## First night: list and fetch every object (issue 19)",
        "",
        "| instances | protocol | bare baseline (list + fetch) | spokesync full pull | ratio "
        "| target | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for protocol in PROTOCOLS:
            p, (name, how) = r[protocol], LABELS[protocol]
            base, full = p["bare_full"], p["full"]
            ratio = full["seconds"] / base["seconds"]
            lines.append(
                f"| {r['instances']:,} | {name} ({how}) | {_cell(base)} | {_cell(full)} | "
                f"{ratio:.2f}× | ≤ {TARGET}× | {'met' if ratio <= TARGET else 'NOT met'} |"
            )
    lines += ["", "## Quiet night: list only, fetch nothing", "",
              "| instances | protocol | bare listing | quiet pull (nightly) | ratio "
              "| objects fetched by a quiet re-run |", "|---|---|---|---|---|---|"]  # fmt: skip
    for r in results:
        for protocol in PROTOCOLS:
            p = r[protocol]
            lines.append(
                f"| {r['instances']:,} | {LABELS[protocol][0]} | {_cell(p['bare'])} | "
                f"{_cell(p['quiet'])} | {p['quiet']['seconds'] / p['bare']['seconds']:.2f}× | "
                f"{p['quiet_rerun_fetched']} |"
            )
    return "\n".join([*lines, "", *NOTES, ""])


def _cell(figure: dict) -> str:
    loads = ", ".join(f"{load:g}" for load in figure.get("loads", []))
    return f"{figure['seconds']:.2f} [{loads}]"


NOTES = [
    "The bare baseline is the protocol alone, measured in the same run against the same",
    "Orthanc: the bare listing (QIDO-RS JSON via requests, or C-FIND via pynetdicom), then the",
    "same instances fetched the way the pull fetches them, with no parsing, manifest or",
    "catalog: each series' WADO-RS answer read whole on `fetch_workers` threads, or one C-GET",
    "per study on one association (same socket tuning as the hub, objects written as",
    "received). The full pull is `pull_spoke(..., fetch_all=True)`: the listing, a whole",
    "series per WADO-RS request (a bounded window of `fetch_workers` requests, each answer",
    "streamed part by part to disk) or a whole study per C-GET, and every object read once",
    "as it arrives, its manifest row and fingerprint taken from the Part 10 walk (pydicom",
    "parses only an unusual object). A quiet pull costs queries only: it fetches no object.",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("var/bench/pull"))
    parser.add_argument("--one", nargs=4, metavar=("MODE", "HUB", "PROTOCOL", "OUT"))
    args = parser.parse_args()
    if args.one:
        mode, hub, protocol, out = args.one
        print(json.dumps(measure(mode, Path(hub), protocol, Path(out))))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    results = [bench_size(int(s), args.runs, args.work.absolute()) for s in args.sizes.split(",")]
    version = subprocess.run(["Orthanc", "--version"], capture_output=True, text=True).stdout
    machine = {"date": f"{datetime.now(UTC):%Y-%m-%d}", "cpus": os.cpu_count(),
               "python": platform.python_version(), "orthanc": version.split()[1],
               "sizes": args.sizes}  # fmt: skip
    (args.work / "results.json").write_text(json.dumps({"machine": machine, "results": results}))
    REPORT.write_text(report(results, machine, args.runs))
    print(REPORT.read_text())


if __name__ == "__main__":
    main()
