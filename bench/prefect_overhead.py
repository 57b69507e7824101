"""Prefect's overhead on a nightly run (issue 8 row 6): the flow beside the same work without it.

    .venv/bin/python -m bench.prefect_overhead [--catalog 1M] [--manifest 1M] [--runs 3]

Per repetition, each in its own process on a fresh copy of the synthetic catalog
(bench/synthetic.py), interleaved:

- `bare`: what the nightly-reconcile flow does for the one spoke, called as plain functions:
  tasks.reconcile.run.run_spoke (stage, plan, archive, commit) and
  tasks.reports.tables.write_reports;
- `prefect`: the `nightly-reconcile` flow itself (flows/reconcile.py), its subflow and tasks
  (pull-manifest, plan-run, archive-batch, commit-run, write-reports) and artifacts, against a
  Prefect server that is already up (prefect_test_harness, started before the clock, as a
  deployment's server would be).

Overhead = prefect / bare - 1, from the medians.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

from bench.reconcile import fresh_hub
from bench.shape import parse_count
from bench.synthetic import ensure_catalog, ensure_drop, label
from bench.timing import answer_child, machine, medians, run_child, write_result

MODES = ("bare", "prefect")
# Prefect offline, as every entry point sets it
from spokesync.tasks.prefect_env import set_prefect_defaults  # noqa: E402

set_prefect_defaults()


def bare(config_file: Path) -> dict:
    from spokesync.tasks.config import load_config
    from spokesync.tasks.reconcile.run import run_spoke
    from spokesync.tasks.reports.tables import write_reports

    config = load_config(config_file)
    start = time.perf_counter()
    result = run_spoke(config, "north")
    write_reports(config, result["run_id"])
    return {"seconds": time.perf_counter() - start, "result": _counts(result)}


def prefect(config_file: Path) -> dict:
    from prefect.testing.utilities import prefect_test_harness

    from spokesync.flows.reconcile import nightly_reconcile

    with prefect_test_harness(server_startup_timeout=180):
        start = time.perf_counter()
        results = nightly_reconcile(config_file=str(config_file))
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "result": _counts(results["north"])}


def _counts(result: dict) -> dict:
    """What both modes must agree on: the run did the same work."""
    keys = ("status", "manifest_rows", "new_instances", "deleting", "cc_records", "tars_written")
    return {k: result[k] for k in keys}


def measure(args: argparse.Namespace) -> dict:
    n, m = parse_count(args.catalog), parse_count(args.manifest)
    drop = ensure_drop(args.work, n, m)
    catalog = ensure_catalog(args.work, n)
    hub = args.work / "hubs" / f"prefect-{label(n)}-{label(m)}"
    results: dict[str, list[dict]] = {mode: [] for mode in MODES}
    for rep in range(args.runs):
        for mode in MODES:
            config = fresh_hub(hub, catalog, drop)
            results[mode].append(run_child("bench.prefect_overhead", "--child", mode, str(config)))
        print(f"  run {rep + 1}: " + ", ".join(
            f"{k} {v[-1]['seconds']:.2f} s" for k, v in results.items()), flush=True)  # fmt: skip
    shutil.rmtree(hub, ignore_errors=True)
    first = results["bare"][0]["result"]
    if any(r["result"] != first for rows in results.values() for r in rows):
        raise SystemExit(f"the modes did different work: {results}")
    summary = {mode: medians(rows) for mode, rows in results.items()}
    summary["work"] = first
    summary["overhead"] = summary["prefect"]["seconds"] / summary["bare"]["seconds"] - 1
    summary["overhead_per_run"] = statistics.median(
        p["seconds"] / b["seconds"] - 1
        for p, b in zip(results["prefect"], results["bare"], strict=True)
    )
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", default="1M")
    parser.add_argument("--manifest", default="1M")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("var/bench"))
    parser.add_argument("--child", nargs=2, metavar=("MODE", "CONFIG"))
    args = parser.parse_args()
    if args.child:
        return answer_child({"bare": bare, "prefect": prefect}, args.child[0], args.child[1:])
    args.work = args.work.absolute()
    about = machine()
    result = measure(args)
    b, p = result["bare"], result["prefect"]
    print(f"nightly run, {args.manifest} manifest vs {args.catalog} catalog, median of "
          f"{args.runs}:\n  without Prefect {b['seconds']:.2f} s ({b['all_seconds']})\n"
          f"  nightly-reconcile flow {p['seconds']:.2f} s ({p['all_seconds']})\n"
          f"  overhead {result['overhead']:.1%} (target <= 10 %)")  # fmt: skip
    name = f"prefect_overhead-{args.catalog}-{args.manifest}"
    out = write_result(args.work, name, {"machine": about, "args": vars(args), **result})
    print(f"figures: {os.path.relpath(out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
