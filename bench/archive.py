"""Archive throughput (issue 8 row 3): new objects into series TARs, beside write + fsync.

    .venv/bin/python -m bench.archive [--objects 1000] [--matrix 512] [--runs 3]

Writes one study of `--objects` CT images of `--matrix`² 16-bit pixels (0.5 MB each at 512, a
clinical CT slice), builds its drop once, then per repetition, each in its own process on a
fresh hub:

- `baseline`: read every object file and write its bytes, in the same order, to one file on
  the hub's nearline volume, then fsync it: the disk's sequential write speed for these bytes;
- `spokesync`: stage and plan the run untimed, then time what archiving is: every batch's
  series TARs (fingerprint check, SHA-256 per member, SHA256SUMS, fsync) and the commit
  (publish by link + directory fsync, stored_objects and instances rows, one transaction).

Throughput is bytes of objects per second; the ratio is spokesync's over the baseline's.
`--before DIR` (a `git archive` of earlier code) times that code's archiving in the same run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

from bench.timing import ROOT, answer_child, machine, medians, run_child, write_result

SPOKE = "bench"
CHUNK = 1 << 20


def prepare(work: Path, objects: int, matrix: int) -> Path:
    """The drop with `objects` new CT images, built once per size."""
    drop = work / f"drop-{objects}x{matrix}"
    if (drop / "manifest.parquet").exists():
        return drop
    from bench.objects import write_ct_study
    from spokesync.tasks.manifest.build import build_drop

    sources = work / f"sources-{objects}x{matrix}"
    shutil.rmtree(sources, ignore_errors=True)
    write_ct_study(sources, 0, objects, matrix=matrix)
    build_drop(sources, SPOKE, drop)
    return drop


def fresh_hub(hub: Path, drop: Path) -> Path:
    from spokesync.tasks.config import add_spoke, init_config

    shutil.rmtree(hub, ignore_errors=True)
    file = init_config(hub)
    add_spoke(file, SPOKE, drop)
    return file


def baseline(config_file: Path, drop: Path) -> dict:
    """Sequential write + fsync of the same bytes to the hub's first nearline volume."""
    from spokesync.tasks.config import load_config

    volume = load_config(config_file).volumes[0]
    volume.mkdir(parents=True, exist_ok=True)
    files = sorted((drop / "objects").rglob("*.dcm"))
    start = time.perf_counter()
    written = 0
    with open(volume / "baseline.bin", "wb") as out:
        for path in files:
            with open(path, "rb") as src:
                while chunk := src.read(CHUNK):
                    out.write(chunk)
                    written += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "bytes": written, "objects": len(files)}


def spokesync(config_file: Path, drop: Path) -> dict:
    """Plan untimed, then time staging every batch's TARs and committing the run."""
    from spokesync.tasks.config import load_config
    from spokesync.tasks.nearline.archive import stage_batch
    from spokesync.tasks.reconcile.run import commit_run, new_run, plan_run, stage_manifest

    config = load_config(config_file)
    state = plan_run(config, stage_manifest(new_run(config, SPOKE, drop)))
    start = time.perf_counter()
    day = state.started_at.date()
    batches = [
        stage_batch(state.drop, p, config.volumes, state.run_id, day) for p in state.batch_paths
    ]
    staged = time.perf_counter()
    result = commit_run(config, state, batches)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "stage_tars_seconds": staged - start,
        "commit_seconds": seconds - (staged - start),
        "bytes": result["bytes_archived"],
        "objects": result["new_instances"],
        "tars": result["tars_written"],
    }


def measure(work: Path, drop: Path, runs: int, before: Path | None = None) -> dict:
    """Interleaved repetitions of both (and of `before`'s code), each on a fresh hub; medians."""
    results: dict[str, list[dict]] = {"baseline": [], "spokesync": []}
    if before is not None:
        results["before"] = []
    loads = []
    for rep in range(runs):
        loads.append(round(os.getloadavg()[0], 2))  # a shared machine: say how busy it was
        for mode in results:
            config = fresh_hub(work / "hub", drop)
            os.sync()  # start each from a quiet disk
            child = ("--child", "spokesync" if mode == "before" else mode, str(config), str(drop))
            where = before if mode == "before" else ROOT
            results[mode].append(run_child("bench.archive", *child, cwd=where))
        print(f"  run {rep + 1} (load {loads[-1]}): " + ", ".join(
            f"{m} {r[-1]['bytes'] / r[-1]['seconds'] / 1e6:.0f} MB/s" for m, r in results.items()
        ), flush=True)  # fmt: skip
    shutil.rmtree(work / "hub", ignore_errors=True)
    summary = {mode: medians(rows) | {"bytes": rows[0]["bytes"]} for mode, rows in results.items()}
    for mode, rows in results.items():
        summary[mode]["mb_per_s"] = statistics.median(r["bytes"] / r["seconds"] / 1e6 for r in rows)
    extra = ("stage_tars_seconds", "commit_seconds")
    summary["spokesync"] |= medians(results["spokesync"], extra)
    summary["spokesync"]["tars"] = results["spokesync"][0]["tars"]
    if before is not None:
        summary["before"] |= medians(results["before"], extra)
    summary["ratio"] = summary["spokesync"]["mb_per_s"] / summary["baseline"]["mb_per_s"]
    summary["load_average_1min"] = loads
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--matrix", type=int, default=512)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("var/bench/archive"))
    parser.add_argument("--before", type=Path, help="a checkout of earlier code to run beside")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "CONFIG", "DROP"))
    args = parser.parse_args()
    if args.child:
        modes = {"baseline": baseline, "spokesync": spokesync}
        return answer_child(modes, args.child[0], args.child[1:])
    work = args.work.absolute()
    about = machine()
    drop = prepare(work, args.objects, args.matrix)
    result = measure(work, drop, args.runs, args.before and args.before.absolute())
    b, s = result["baseline"], result["spokesync"]
    print(f"{args.objects} objects, {b['bytes'] / 1e6:.0f} MB, {s['tars']} series TARs, "
          f"median of {args.runs}:\n"
          f"  baseline write + fsync: {b['mb_per_s']:.0f} MB/s ({b['all_seconds']} s)\n"
          f"  spokesync archive: {s['mb_per_s']:.0f} MB/s ({s['all_seconds']} s; TARs "
          f"{s['stage_tars_seconds']:.2f} s, commit {s['commit_seconds']:.2f} s)\n"
          f"  ratio {result['ratio']:.2f} (target >= 0.70)")  # fmt: skip
    if args.before:
        print(f"  before (--before): {result['before']['mb_per_s']:.0f} MB/s "
              f"({result['before']['all_seconds']} s)")  # fmt: skip
    out = write_result(work.parent, "archive", {"machine": about, "args": vars(args), **result})
    print(f"figures: {os.path.relpath(out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
