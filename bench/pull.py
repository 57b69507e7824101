"""Manifest pull from a real Orthanc over DICOMweb and over DIMSE, beside the bare protocol.

    .venv/bin/python -m bench.pull [--sizes 1000,10000] [--runs 3] [--work var/bench/pull]

Per size, starts Debian's Orthanc on loopback (free ports, storage under --work), stores that
many small CT images (studies of 50 in five series), archives them once into a hub over each
protocol, then times, each repetition in its own fresh process:

- `quiet`: the nightly pull against an unchanged PACS (`pull_spoke`: list every study, look the
  SOP UIDs up in the catalog, fetch nothing) — what a quiet night costs;
- `bare`: the same listing with the bare protocol only (QIDO-RS JSON via requests, or C-FIND
  via pynetdicom), no manifest, no catalog — the floor any client pays;
- `full`: `manifest pull --all-objects` (list and fetch every object with WADO-RS or C-GET).

It also counts the objects a quiet re-run downloads (WADO-RS requests / C-STORE
sub-operations), which must be 0. Results: docs/benchmarks-pull.md and --work/results.json.
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
        list(pool.map(lambda data: orthanc.rest("POST", "/instances", data=data),
                      synthetic_objects(count)))  # fmt: skip
    return time.monotonic() - started


def measure(mode: str, hub: Path, protocol: str, out: Path) -> dict:
    """One repetition in this process (called through `--one`)."""
    from spokesync.tasks.config import load_config
    from spokesync.tasks.spokes.hub import pull_spoke

    config = load_config(hub / "spokesync.toml")
    started = time.monotonic()
    if mode == "bare":
        listed = bare_listing(config.spokes["north"])
        return {"seconds": time.monotonic() - started, "instances": listed}
    result = pull_spoke(config, "north", out, fetch_all=mode == "full")
    return {
        "seconds": time.monotonic() - started,
        "instances": result.instances,
        "fetched": result.fetched,
    }


def bare_listing(spoke) -> int:
    """List every instance with nothing but the protocol: the floor for `quiet`."""
    from spokesync.tasks.spokes.source import TRACKED_KEYWORDS

    if spoke.source == "dicomweb":
        import requests

        session = requests.Session()
        session.auth = (os.environ[spoke.username_env], os.environ[spoke.password_env])
        studies = session.get(f"{spoke.url}/studies", params={"limit": 100000}).json()
        fields = {"includefield": list(TRACKED_KEYWORDS)}
        return sum(
            len(session.get(f"{spoke.url}/studies/{s['0020000D']['Value'][0]}/instances",
                            params=fields).json())
            for s in studies
        )  # fmt: skip
    return bare_c_find(spoke, TRACKED_KEYWORDS)


def bare_c_find(spoke, keywords) -> int:
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
    found = 0
    for study in studies:
        query = Dataset()
        query.QueryRetrieveLevel = "IMAGE"
        for keyword in keywords:
            setattr(query, keyword, "")
        query.StudyInstanceUID = study
        found += sum(1 for _, i in assoc.send_c_find(query, FIND) if i is not None)
    assoc.release()
    return found


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
        found.append(json.loads(line))
    return {**found[-1], "seconds": statistics.median(f["seconds"] for f in found),
            "all_seconds": [round(f["seconds"], 3) for f in found]}  # fmt: skip


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
                   for mode in ("bare", "quiet", "full")},
            }  # fmt: skip
        return figures
    finally:
        orthanc.stop()


def report(results: list[dict], machine: dict) -> str:
    lines = [
        "# Benchmarks: manifest pull from a PACS",
        "",
        "`.venv/bin/python -m bench.pull --sizes 1000,10000 --runs 3` against Debian's Orthanc "
        f"{machine['orthanc']} on loopback, measured {machine['date']} on {machine['cpus']} cores,"
        f" Python {machine['python']}. Medians of 3 fresh processes; seconds.",
        "",
        "| instances | protocol | bare listing | quiet pull (nightly) | ratio | full pull "
        "(list + fetch all) | objects fetched by a quiet re-run |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for protocol in PROTOCOLS:
            p = r[protocol]
            label = "DICOMweb (QIDO-RS, WADO-RS)" if protocol == "dicomweb" else (
                "DIMSE (C-FIND, C-GET)")  # fmt: skip
            lines.append(
                f"| {r['instances']:,} | {label} | {p['bare']['seconds']:.2f} | "
                f"{p['quiet']['seconds']:.2f} | {p['quiet']['seconds'] / p['bare']['seconds']:.2f}"
                f"× | {p['full']['seconds']:.2f} | {p['quiet_rerun_fetched']} |"
            )
    lines += ["", "A quiet pull costs queries only: it fetches no object (last column). The",
              "full pull is what a first archive of that spoke costs.", ""]  # fmt: skip
    return "\n".join(lines)


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
               "python": platform.python_version(), "orthanc": version.split()[1]}  # fmt: skip
    (args.work / "results.json").write_text(json.dumps({"machine": machine, "results": results}))
    REPORT.write_text(report(results, machine))
    print(REPORT.read_text())


if __name__ == "__main__":
    main()
