"""Retrieval throughput for a 2,000-instance study, beside a bare pydicom read-and-write loop.

    .venv/bin/python -m bench.retrieve [--instances 2000] [--runs 3] [--work var/bench/retrieve]

Builds a spoke drop with one study of `--instances` CT images (pydicom's CT_small, each with
its own UIDs and pixel bytes) and a small study of 200 for the memory comparison, archives it
with run_spoke, then corrects the patient name Orthanc-style (new study, series and SOP UIDs,
so every object is edited, re-identified and gets an Original Attributes Sequence item) and
reconciles again. Each measurement runs in its own process, so its peak RSS is its own:

- `bare`: pydicom dcmread + save_as over the same objects as stored (the drop's files);
- `folder`: `retrieve_study(..., out=...)` by the old study UID (resolved through the map);
- `cstore`: `retrieve_study(..., to=...)` into DCMTK storescp on loopback (TCP_NODELAY=1);
- `bare_cstore`: the same files C-STOREd unchanged over the same kind of association, to show
  what the network and the peer cost on their own.

The median of `--runs` repetitions is reported; results go to docs/benchmarks-retrieve.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pydicom

from bench.objects import write_ct_study

SPOKE, SMALL = "bench", 200
PATIENT = ("BENCH-0001", "FAKE^BENCH")
REPORT = Path("var/bench/results/retrieve.md")  # copied into docs/benchmarks.md by hand


def prepare(work: Path, instances: int) -> dict:
    """Build, archive and correct the studies once; later calls reuse them."""
    done = work / "prepared.json"
    if done.exists():
        return json.loads(done.read_text())
    import simulator as sim
    from spokesync.tasks.config import add_spoke, init_config, load_config
    from spokesync.tasks.manifest.build import build_drop
    from spokesync.tasks.reconcile.run import run_spoke

    shutil.rmtree(work, ignore_errors=True)
    write_ct_study(work / "sources", 0, instances)
    write_ct_study(work / "sources", 1, SMALL)
    build_drop(work / "sources", SPOKE, work / "drop")
    file = init_config(work / "hub")
    add_spoke(file, SPOKE, work / "drop")
    run_spoke(load_config(file), SPOKE)
    table = sim.manifest_of(work / "drop")
    big, small = sorted(sim.study_uids(table), key=lambda s: -len(sim.instances_of(table, s)))
    fix = sim.Correct("patient", PATIENT[0], "patient_name", "FAKE^CORRECTED", "orthanc")
    sim.apply_operations(work / "drop", [fix], work / "corrected")
    add_spoke(file, SPOKE, work / "corrected")
    run_spoke(load_config(file), SPOKE, allow_mass_delete=True)
    found = {"config": str(file), "big": big, "small": small,
             "files": str(work / "sources" / "study-0")}  # fmt: skip
    done.write_text(json.dumps(found))
    return found


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def child(mode: str, prepared: dict, out: Path, node: str | None, study: str) -> dict:
    """One timed repetition in this process; returns seconds, instances, bytes, peak RSS."""
    from spokesync.tasks.config import load_config
    from spokesync.tasks.retrieve.study import retrieve_study

    config = load_config(Path(prepared["config"]))
    import pandas  # noqa: F401  DuckDB imports it on first use; a worker has it loaded already

    files = sorted(Path(prepared["files"]).glob("*.dcm"))
    start = time.perf_counter()
    if mode == "bare":
        for path in files:
            pydicom.dcmread(path).save_as(out / path.name)
        count, size = len(files), sum(p.stat().st_size for p in files)
    elif mode == "bare_cstore":
        count, size = send_files(files, node), sum(p.stat().st_size for p in files)
    else:
        node = node if mode == "cstore" else None  # folder and small write to `out`
        result = retrieve_study(config, study, out=None if node else out, to=node)
        if result.failed:
            raise SystemExit(f"{len(result.failed)} failed, first: {result.failed[0].error}")
        count, size = result.sent, result.stored_bytes
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "instances": count, "bytes": size, "peak_rss": peak_rss()}


def send_files(files: list[Path], node: str) -> int:
    """The same files C-STOREd as they are over spokesync's association (no catalog, no edits)."""
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

    from spokesync.tasks.retrieve.dimse_send import (
        parse_node,
        presentation_contexts,
        store_association,
    )

    contexts = presentation_contexts([(CTImageStorage, ExplicitVRLittleEndian)])
    with store_association(parse_node(node), contexts) as send:
        for path in files:
            send(None, path)
    return len(files)


def run_child(mode: str, work: Path, node: str | None, study: str) -> dict:
    """Run one repetition in a fresh interpreter (clean peak RSS), into an empty folder."""
    out = work / "out" / mode
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    args = [sys.executable, "-m", "bench.retrieve", "--work", str(work), "--child", mode,
            "--out", str(out), "--study", study] + (["--node", node] if node else [])  # fmt: skip
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{mode} run failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"storescp did not listen on port {port}")


def start_storescp(folder: Path, *, nodelay: bool = True) -> tuple[subprocess.Popen, str]:
    """DCMTK storescp on a free loopback port, writing into `folder`; `nodelay=False` starts
    it as installed (Nagle left on), as most receivers run."""
    tool = dcmtk_tool("storescp")
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [tool, "--aetitle", "STORESCP", "--output-directory", str(folder), str(port)]
    env = {k: v for k, v in os.environ.items() if k != "TCP_NODELAY"}
    if nodelay:
        env["TCP_NODELAY"] = "1"  # DCMTK leaves Nagle on unless asked
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    wait_for_port(port, proc)
    return proc, f"STORESCP@127.0.0.1:{port}"


def dcmtk_tool(name: str) -> str:
    """A DCMTK program from the system PATH, never pynetdicom's same-named script."""
    venv_bin = os.path.realpath(os.path.join(sys.prefix, "bin"))
    path = os.pathsep.join(
        p
        for p in os.environ.get("PATH", "").split(os.pathsep)
        if p and os.path.realpath(p) != venv_bin
    )
    tool = shutil.which(name, path=path)
    if not tool:
        raise SystemExit(f"{name} is missing: apt-get install dcmtk")
    return tool


def measure(work: Path, prepared: dict, runs: int) -> dict[str, dict]:
    """Median of `runs` repetitions per mode; storescp's output is cleared between runs."""
    received = work / "received"
    proc, node = start_storescp(received)
    modes = ("bare", "folder", "bare_cstore", "cstore")
    results: dict[str, list[dict]] = {mode: [] for mode in (*modes, "small")}
    try:
        for _ in range(runs):
            for mode in modes:
                shutil.rmtree(received, ignore_errors=True)
                received.mkdir()
                results[mode].append(run_child(mode, work, node, prepared["big"]))
            results["small"].append(run_child("folder", work, None, prepared["small"]))
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    return {mode: median(rows) for mode, rows in results.items()}


def median(rows: list[dict]) -> dict:
    middle = sorted(rows, key=lambda r: r["seconds"])[len(rows) // 2]
    return middle | {"peak_rss": max(r["peak_rss"] for r in rows),
                     "all_seconds": [round(r["seconds"], 2) for r in rows]}  # fmt: skip


def machine() -> str:
    memory = next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))  # fmt: skip
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.machine())  # fmt: skip
    load = os.getloadavg()
    return (f"{os.cpu_count()} CPUs ({model}), {int(memory) / 2**20:.1f} GiB memory, "
            f"load average {load[0]:.1f} at the start, Python {platform.python_version()}, "
            f"pydicom {pydicom.__version__}")  # fmt: skip


def write_report(results: dict[str, dict], instances: int, runs: int, about: str) -> str:
    bare = results["bare"]
    lines = [
        "# Retrieval benchmark",
        "",
        f"`.venv/bin/python -m bench.retrieve --instances {instances} --runs {runs}` on "
        f"{datetime.now(UTC):%Y-%m-%d}; {about}.",
        "",
        f"One study of {instances} CT images (pydicom's CT_small, distinct pixels, about "
        f"{bare['bytes'] / bare['instances'] / 1000:.0f} kB each), patient name corrected "
        "Orthanc-style, so every object is re-identified, corrected and given an Original "
        "Attributes Sequence item; retrieved by its old study UID. Median of "
        f"{runs} runs, each in its own process; peak RSS is that process's maximum.",
        "",
        "| what | instances/s | MB/s | × bare loop | peak RSS MiB | runs (s) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    names = {"bare": "bare pydicom read + write loop", "folder": "`retrieve --out` (folder)",
             "bare_cstore": "bare C-STORE of the same files (spokesync's association, no edits)",
             "cstore": "`retrieve --to` (C-STORE to storescp)",
             "small": f"`retrieve --out`, a {SMALL}-instance study"}  # fmt: skip
    for mode, row in results.items():
        rate = row["instances"] / row["seconds"]
        ratio = rate / (bare["instances"] / bare["seconds"])
        lines.append(
            f"| {names[mode]} | {rate:.0f} | {row['bytes'] / 1e6 / row['seconds']:.1f} | "
            f"{ratio:.2f} | {row['peak_rss'] / 2**20:.0f} | {row['all_seconds']} |"
        )
    lines += [
        "",
        "MB are stored (nearline) bytes of the objects delivered, 10^6 bytes. The bare loop and "
        "the bare C-STORE do none of retrieval's work (catalog, TAR read with SHA-256, "
        "correction). A C-STORE retrieval pays the correction and the send one after the other: "
        "pynetdicom's send_c_store waits for each response, the association is one per study, "
        "and the correcting and sending threads share one interpreter lock. storescp runs on "
        "the same machine; the figures move with the machine's load (other processes included).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=2000, choices=range(1, 32768),
                        metavar="N")  # fmt: skip
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("var/bench/retrieve"))
    parser.add_argument("--child"), parser.add_argument("--out", type=Path)
    parser.add_argument("--node"), parser.add_argument("--study")
    args = parser.parse_args()
    if args.child:
        prepared = json.loads((args.work / "prepared.json").read_text())
        print(json.dumps(child(args.child, prepared, args.out, args.node, args.study)))
        return
    about = machine()
    prepared = prepare(args.work, args.instances)
    report = write_report(measure(args.work, prepared, args.runs), args.instances, args.runs,
                          about)  # fmt: skip
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
