"""Time a full reconcile of a synthetic spoke drop against a synthetic catalog (issue 8 rows 1-2).

    .venv/bin/python bench/reconcile.py --catalog 1M --manifest 100k
    .venv/bin/python bench/reconcile.py --catalog 1M,10M --manifest 100k   # cost follows the drop
    .venv/bin/python bench/reconcile.py --catalog 1M --manifest 1M         # row 1 shape

Generates (or reuses) the catalog and drop under --work (bench/synthetic.py), then per
repetition copies the catalog file into a fresh hub and runs, each in its own process: the
baseline (a bare DuckDB full outer join of manifest and catalog instances on SOP UID) and
spokesync's run_spoke steps (stage, plan, archive, commit). Prints medians, peak RSS, the
records found per kind against the ground truth, and writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pyarrow

from bench.scoring import table
from bench.shape import parse_count
from bench.synthetic import ensure_catalog, ensure_drop, label
from spokesync.tasks.config import add_spoke, init_config, load_config

ROOT = Path(__file__).resolve().parent.parent
GIB = 1024**3


def fresh_hub(hub: Path, catalog: Path, drop: Path) -> Path:
    """A new hub configuration whose catalog is a fresh copy of the generated one."""
    shutil.rmtree(hub, ignore_errors=True)
    file = init_config(hub)
    add_spoke(file, "north", drop)
    copy = shutil.copyfile(catalog / "catalog.duckdb", load_config(file).catalog)
    with open(copy, "rb") as handle:  # written back before the clock starts, not during the run
        os.fsync(handle.fileno())
    return file


class MemoryCapped(RuntimeError):
    """A repetition was stopped because its RSS passed --rss-limit (the machine is shared)."""


def child(mode: str, first: Path, second: Path, rss_limit: float | None = None) -> dict:
    """Run one repetition in a new process (bench/run_once.py) and return its JSON.

    With `rss_limit` (GiB) the process is watched and stopped before it can take the memory
    that other work on the machine needs; MemoryCapped then says how far it got.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        command = [sys.executable, "-m", "bench.run_once", mode, str(first), str(second)]
        proc = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=err, text=True)
        start, peak = time.perf_counter(), 0
        while proc.poll() is None:
            peak = max(peak, _rss(proc.pid))
            if rss_limit and peak > rss_limit * GIB:
                proc.kill()
                proc.wait()
                raise MemoryCapped(f"{mode} stopped at {peak / GIB:.1f} GiB RSS after "
                                   f"{time.perf_counter() - start:.0f} s")  # fmt: skip
            time.sleep(0.2)
        out.seek(0), err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"{mode} run failed:\n{err.read()[-4000:]}")
        return json.loads(out.read().strip().splitlines()[-1])


def _rss(pid: int) -> int:
    """A running process's resident set size in bytes (0 once it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    line = next((x for x in status.splitlines() if x.startswith("VmRSS:")), "VmRSS: 0 kB")
    return int(line.split()[1]) * 1024


def measure(args: argparse.Namespace, sizes: list[int], manifest: int) -> list[dict]:
    """Median of `args.runs` repetitions of baseline and reconcile per catalog size.

    Repetitions go round the sizes (1M, 10M, 1M, 10M, ...), so that a busy spell on the
    machine falls on every size alike and the ratio between sizes stays fair.
    """
    inputs = [(ensure_drop(args.work, n, manifest, args.seed, args.rate),
               ensure_catalog(args.work, n, args.seed)) for n in sizes]  # fmt: skip
    done: list[tuple[list, list, list]] = [([], [], []) for _ in sizes]
    for rep in range(args.runs):
        for n, (drop, catalog), (baselines, runs, loads) in zip(sizes, inputs, done, strict=True):
            hub = args.work / "hubs" / f"{label(n)}-{label(manifest)}"
            config = fresh_hub(hub, catalog, drop)
            loads.append(os.getloadavg()[0])  # other work on the machine, for reading figures
            baselines.append(child("baseline", load_config(config).catalog,
                                   drop / "manifest.parquet"))  # fmt: skip
            try:
                runs.append(child("reconcile", config, drop, args.rss_limit))
            except MemoryCapped as capped:
                shutil.rmtree(hub, ignore_errors=True)
                raise SystemExit(f"{label(n)} x {label(manifest)}: {capped}") from None
            shutil.rmtree(hub, ignore_errors=True)
            print(f"  {label(n)} run {rep + 1}: baseline {baselines[-1]['seconds']:.2f} s, "
                  f"spokesync {runs[-1]['seconds']:.2f} s", flush=True)  # fmt: skip
    return [
        aggregate(n, manifest, baselines, runs) | {"load_average_1min": loads}
        for n, (baselines, runs, loads) in zip(sizes, done, strict=True)
    ]


def aggregate(instances: int, manifest: int, baselines: list[dict], runs: list[dict]) -> dict:
    """Medians per step, the worst peak RSS, and the (identical) accuracy of each run."""
    median = statistics.median
    base, total = median(b["seconds"] for b in baselines), median(r["seconds"] for r in runs)
    return {
        "catalog": instances,
        "manifest": manifest,
        "manifest_rows": runs[0]["manifest_rows"],
        "runs": len(runs),
        "baseline_seconds": base,
        "seconds": total,
        "ratio": total / base,
        "steps": {k: median(r["steps"][k] for r in runs) for k in runs[0]["steps"]},
        "all_seconds": [r["seconds"] for r in runs],
        "all_baseline_seconds": [b["seconds"] for b in baselines],
        "peak_rss": max(r["peak_rss"] for r in runs),
        "rss_after_imports": max(r["rss_after_imports"] for r in runs),
        "peak_rss_after": {k: max(r["peak_rss_after"][k] for r in runs) for k in runs[0]["steps"]},
        "baseline_peak_rss": max(b["peak_rss"] for b in baselines),
        "deleting": runs[0]["deleting"],
        "new_instances": runs[0]["new_instances"],
        "cc_records": runs[0]["cc_records"],
        "accuracy": runs[0]["accuracy"],
        "same_records_every_run": all(r["accuracy"] == runs[0]["accuracy"] for r in runs),
    }


def machine() -> dict:
    """What the figures were measured on."""
    memory = next(
        int(line.split()[1]) * 1024
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(memory / GIB, 1),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pyarrow": pyarrow.__version__,
        "system": platform.platform(),
    }


def report(result: dict) -> str:
    """One size's figures as text: times, steps, memory and detection accuracy."""
    steps = ", ".join(f"{k} {v:.2f} s" for k, v in result["steps"].items())
    name = f"{label(result['manifest'])} drop vs {label(result['catalog'])} catalog"
    return "\n".join([
        f"## {name} ({result['manifest_rows']} manifest rows, median of {result['runs']})",
        f"baseline (bare full outer join on SOP UID): {result['baseline_seconds']:.2f} s",
        f"spokesync run_spoke: {result['seconds']:.2f} s = {steps}",
        f"ratio: {result['ratio']:.1f} x baseline (load average before each run: "
        + ", ".join(f"{x:.1f}" for x in result["load_average_1min"]) + ")",
        f"peak RSS: {result['peak_rss'] / GIB:.2f} GiB (after imports "
        f"{result['rss_after_imports'] / GIB:.2f} GiB; "
        f"baseline {result['baseline_peak_rss'] / GIB:.2f} GiB); peak after "
        + ", ".join(f"{k} {v / GIB:.2f}" for k, v in result["peak_rss_after"].items()),
        f"plan: {result['cc_records']} cc records, {result['deleting']} instances deleted, "
        f"{result['new_instances']} new objects archived",
        table(result["accuracy"]),
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """Measure each catalog size, print the figures and write them as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", default="1M", help="catalog size(s), comma-separated")
    parser.add_argument("--manifest", default="100k", help="drop size")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("var/bench"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate", type=float, default=0.01, help="share of studies changed")
    parser.add_argument("--rss-limit", type=float, help="GiB: stop a run that grows past this")
    args = parser.parse_args(argv)
    args.work = args.work.absolute()
    manifest = parse_count(args.manifest)
    print(f"catalog {args.catalog}, manifest {args.manifest}:", flush=True)
    results = measure(args, [parse_count(size) for size in args.catalog.split(",")], manifest)
    for result in results:
        print(report(result) + "\n", flush=True)
    growth = [
        {"from": a["catalog"], "to": b["catalog"], "time_ratio": b["seconds"] / a["seconds"]}
        for a, b in zip(results, results[1:], strict=False)
    ]
    for g in growth:
        print(f"catalog {label(g['from'])} -> {label(g['to'])}: time x{g['time_ratio']:.2f} "
              "(target for 10M -> 50M: <= 2)")  # fmt: skip
    out = args.work / "results" / f"reconcile-{args.catalog.replace(',', '_')}-{args.manifest}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    document = {"machine": machine(), "results": results, "catalog_growth": growth}
    out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"machine: {machine()}\nfigures: {os.path.relpath(out)}")


if __name__ == "__main__":
    main()
