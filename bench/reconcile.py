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
from pathlib import Path

import duckdb
import pyarrow

from bench.scoring import table
from bench.shape import parse_count
from bench.synthetic import ensure_catalog, ensure_drop, label
from flows.config import add_spoke, init_config, load_config

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


def child(mode: str, first: Path, second: Path) -> dict:
    """Run one repetition in a new process (bench/run_once.py) and return its JSON."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.run_once", mode, str(first), str(second)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{mode} run failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(args: argparse.Namespace, instances: int, manifest: int) -> dict:
    """Median of `args.runs` repetitions of baseline and reconcile, interleaved."""
    drop = ensure_drop(args.work, instances, manifest, args.seed, args.rate)
    catalog = ensure_catalog(args.work, instances, args.seed)
    hub = args.work / "hubs" / f"{label(instances)}-{label(manifest)}"
    baselines, runs, loads = [], [], []
    for rep in range(args.runs):
        config = fresh_hub(hub, catalog, drop)
        loads.append(os.getloadavg()[0])  # other work on the machine, for reading the figures
        baselines.append(child("baseline", load_config(config).catalog, drop / "manifest.parquet"))
        runs.append(child("reconcile", config, drop))
        print(f"  run {rep + 1}: baseline {baselines[-1]['seconds']:.2f} s, "
              f"spokesync {runs[-1]['seconds']:.2f} s", flush=True)  # fmt: skip
    shutil.rmtree(hub, ignore_errors=True)
    return aggregate(instances, manifest, baselines, runs) | {"load_average_1min": loads}


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
    args = parser.parse_args(argv)
    args.work = args.work.absolute()
    manifest, results = parse_count(args.manifest), []
    for size in args.catalog.split(","):
        print(f"catalog {size}, manifest {args.manifest}:", flush=True)
        results.append(measure(args, parse_count(size), manifest))
        print(report(results[-1]) + "\n", flush=True)
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
