"""C-STORE retrieval into a stock receiver (issue 19 row 2), beside DCMTK's storescu and a bare
pynetdicom loop of the same files, measured in the same run.

    .venv/bin/python -m bench.cstore [--instances 76] [--runs 3] [--work var/bench/cstore]

Prepares a hub as `bench.retrieve` does (one study of `--instances` CT_small images, archived,
then its patient name corrected Orthanc-style, so every object is re-identified and corrected
on the way out). Two DCMTK storescp receivers run on loopback: `stock`, as installed (no
TCP_NODELAY in its environment: Nagle left on), and `tuned` (TCP_NODELAY=1). Per repetition,
each mode in its own process:

- `storescu`: DCMTK storescu of the study's source files into the stock receiver (its own
  program; the time includes starting it);
- `bare_tuned`: a bare pynetdicom loop (one association, send_c_store per file, no socket
  options) into the tuned receiver; `bare_stock`: the same loop into the stock receiver;
- `spokesync`: `retrieve_study(..., to=stock)` by the old study UID: catalog, TAR reads with
  SHA-256, correction in a worker thread, C-STORE with TCP_NODELAY and TCP_QUICKACK.

Targets: spokesync at least 4x faster than storescu into the stock receiver, and at least 0.5x
the speed of the bare loop into the tuned one. Medians of `--runs`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.retrieve import SMALL, dcmtk_tool, prepare, start_storescp
from bench.timing import machine, write_result

MODES = ("storescu", "bare_tuned", "bare_stock", "spokesync")


def child(mode: str, prepared: dict, node: str) -> dict:
    """One timed repetition of a Python mode in this process."""
    from bench.run_once import warm_up

    warm_up()  # and import everything before the clock starts, as a running worker has
    from pynetdicom import AE  # noqa: F401

    from spokesync.tasks.config import load_config
    from spokesync.tasks.retrieve.study import retrieve_study

    files = sorted(Path(prepared["files"]).glob("*.dcm"))
    start = time.perf_counter()
    if mode == "spokesync":
        config = load_config(Path(prepared["config"]))
        result = retrieve_study(config, study_of(prepared, len(files)), to=node)
        if result.failed or result.sent != len(files):
            raise SystemExit(f"{len(result.failed)} failed of {result.instances}")
    else:
        bare_loop(files, node)
    return {"seconds": time.perf_counter() - start, "instances": len(files)}


def study_of(prepared: dict, instances: int) -> str:
    """The prepared study of `instances` objects (bench.retrieve adds one of SMALL beside it)."""
    return prepared["big"] if instances >= SMALL else prepared["small"]


def bare_loop(files: list[Path], node: str) -> None:
    """pynetdicom as its documentation shows it: one association, one send_c_store per file."""
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian
    from pynetdicom import AE

    aet, _, address = node.partition("@")
    host, _, port = address.rpartition(":")
    ae = AE(ae_title="BARE")
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    assoc = ae.associate(host, int(port), ae_title=aet)
    try:
        for path in files:
            if assoc.send_c_store(path).Status != 0:
                raise SystemExit(f"{node} refused {path}")
    finally:
        assoc.release()
        ae.shutdown()


def storescu(files: list[Path], node: str) -> dict:
    aet, _, address = node.partition("@")
    host, _, port = address.rpartition(":")
    command = [dcmtk_tool("storescu"), "-aec", aet, host, port, *map(str, files)]
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return {"seconds": time.perf_counter() - start, "instances": len(files)}


def run_mode(mode: str, work: Path, prepared: dict, nodes: dict[str, str]) -> dict:
    node = nodes["tuned" if mode == "bare_tuned" else "stock"]
    if mode == "storescu":
        return storescu(sorted(Path(prepared["files"]).glob("*.dcm")), node)
    args = [sys.executable, "-m", "bench.cstore", "--work", str(work), "--child", mode, node]
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{mode} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(work: Path, prepared: dict, runs: int) -> dict:
    """Interleaved repetitions of every mode; medians, with the load average per repetition."""
    receivers = {name: start_storescp(work / "received" / name, nodelay=name == "tuned")
                 for name in ("stock", "tuned")}  # fmt: skip
    nodes = {name: node for name, (_, node) in receivers.items()}
    rows: dict[str, list[dict]] = {mode: [] for mode in MODES}
    loads = []
    try:
        for rep in range(runs):
            loads.append(round(os.getloadavg()[0], 2))
            for mode in MODES:
                rows[mode].append(run_mode(mode, work, prepared, nodes))
            print(f"  run {rep + 1} (load {loads[-1]}): " + ", ".join(
                f"{m} {r[-1]['seconds']:.2f} s" for m, r in rows.items()), flush=True)  # fmt: skip
    finally:
        for proc, _ in receivers.values():
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        shutil.rmtree(work / "received", ignore_errors=True)
    summary = {m: {"seconds": statistics.median(r["seconds"] for r in rs),
                   "all_seconds": [round(r["seconds"], 3) for r in rs]}
               for m, rs in rows.items()}  # fmt: skip
    s = summary["spokesync"]["seconds"]
    summary["x_storescu"] = summary["storescu"]["seconds"] / s
    summary["x_bare_tuned"] = summary["bare_tuned"]["seconds"] / s
    summary["load_average_1min"] = loads
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=76)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("var/bench/cstore"))
    parser.add_argument("--child", nargs=2, metavar=("MODE", "NODE"))
    args = parser.parse_args()
    work = args.work.absolute()
    if args.child:
        prepared = json.loads((work / "prepared.json").read_text())
        print(json.dumps(child(args.child[0], prepared, args.child[1])))
        return
    about = machine()
    prepared = prepare(work, args.instances)
    result = measure(work, prepared, args.runs)
    print(f"{args.instances} objects, median of {args.runs}:")
    for mode in MODES:
        print(f"  {mode}: {result[mode]['seconds']:.3f} s {result[mode]['all_seconds']}")
    print(f"  spokesync is {result['x_storescu']:.1f}x storescu (target >= 4) and "
          f"{result['x_bare_tuned']:.2f}x the bare loop into a tuned receiver "
          "(target >= 0.5)")  # fmt: skip
    out = write_result(work.parent, "cstore", {"machine": about, "args": vars(args), **result})
    print(f"figures: {os.path.relpath(out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
