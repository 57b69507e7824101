"""Prefect's overhead on a nightly run (issue 8 row 6): the flow beside the same work without it.

    .venv/bin/python -m bench.prefect_overhead [--catalog 1M] [--manifest 1M] [--runs 3]
        [--before DIR]    # a `git archive` of earlier code: its flow, timed in the same run

Per repetition, each in its own process on a fresh copy of the synthetic catalog
(bench/synthetic.py), interleaved, with the 1-minute load average noted before each:

- `bare`: what the nightly-reconcile flow does for the one spoke, called as plain functions:
  tasks.reconcile.run.run_spoke (stage, plan, archive, commit) and
  tasks.reports.tables.write_reports;
- `prefect`: the `nightly-reconcile` flow itself (flows/reconcile.py), its subflow and tasks
  (pull-manifest, plan-run, archive-batch, commit-run, write-reports) and artifacts, against a
  Prefect server that is already up and has served a flow run (prefect_test_harness, started
  and warmed by a small flow in another process before the clock, as a deployment's server
  would be; the flow's own process starts cold, as a worker's flow-run process does);
- `before` (with --before): the same flow from the checkout DIR (its `spokesync` first on
  PYTHONPATH, this file's child code), on the same kind of server.

Overhead = prefect / bare - 1, from the medians. Each run's `steps` (stage, plan, archive,
commit: the work's own wall-clock intervals) are kept, so the seconds outside them (`outside`:
Prefect's engine, slot requests, the flow's own bookkeeping) can be compared between modes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.reconcile import fresh_hub
from bench.shape import parse_count
from bench.synthetic import ensure_catalog, ensure_drop, label
from bench.timing import answer_child, machine, medians, run_child, write_result

MODES = ("bare", "prefect")
STARTUP_SECONDS = 600  # the temporary server's start, before the clock: slow on a busy machine
WARM_UP = """
from prefect import flow, task

@task
def step(x):
    return x

@flow
def warm_up():
    return step(1) + step.submit(2).result()

warm_up()
"""
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
    return _timed(time.perf_counter() - start, result)


def prefect(config_file: Path) -> dict:
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    from spokesync.flows.reconcile import nightly_reconcile

    with prefect_test_harness(server_startup_timeout=STARTUP_SECONDS):
        env = os.environ | {"PREFECT_API_URL": PREFECT_API_URL.value()}
        subprocess.run([sys.executable, "-c", WARM_UP], env=env, check=True, capture_output=True)
        start = time.perf_counter()
        results = nightly_reconcile(config_file=str(config_file))
        seconds = time.perf_counter() - start
    return _timed(seconds, results["north"])


def _timed(seconds: float, result: dict) -> dict:
    """A repetition's seconds, its steps' seconds and the seconds outside them."""
    steps = {k: round(end - start, 3) for k, (start, end) in result["steps"].items()}
    return {
        "seconds": seconds,
        "steps": steps,
        "outside": seconds - sum(steps.values()),
        "result": _counts(result),
    }


def _counts(result: dict) -> dict:
    """What both modes must agree on: the run did the same work."""
    keys = ("status", "manifest_rows", "new_instances", "deleting", "cc_records", "tars_written")
    return {k: result[k] for k in keys}


def measure(args: argparse.Namespace) -> dict:
    n, m = parse_count(args.catalog), parse_count(args.manifest)
    drop = ensure_drop(args.work, n, m)
    catalog = ensure_catalog(args.work, n)
    hub = args.work / "hubs" / f"prefect-{label(n)}-{label(m)}"
    modes = (*MODES, "before") if args.before else MODES
    results: dict[str, list[dict]] = {mode: [] for mode in modes}
    for rep in range(args.runs):
        for mode in modes:
            config = fresh_hub(hub, catalog, drop)
            load = round(os.getloadavg()[0], 2)
            results[mode].append(child(mode, config, args.before) | {"load_1min": load})
        print(f"  run {rep + 1}: " + ", ".join(
            f"{k} {v[-1]['seconds']:.2f} s (outside steps {v[-1]['outside']:.2f} s, "
            f"load {v[-1]['load_1min']})" for k, v in results.items()), flush=True)  # fmt: skip
    shutil.rmtree(hub, ignore_errors=True)
    first = results["bare"][0]["result"]
    if any(r["result"] != first for rows in results.values() for r in rows):
        raise SystemExit(f"the modes did different work: {results}")
    summary = {mode: medians(rows, ("seconds", "outside")) for mode, rows in results.items()}
    for mode, rows in results.items():
        summary[mode]["loads"] = [r["load_1min"] for r in rows]
        summary[mode]["runs"] = rows
    summary["work"] = first
    for mode in modes[1:]:
        summary[f"{mode}_overhead"] = summary[mode]["seconds"] / summary["bare"]["seconds"] - 1
        summary[f"{mode}_overhead_per_run"] = statistics.median(
            p["seconds"] / b["seconds"] - 1
            for p, b in zip(results[mode], results["bare"], strict=True)
        )
    return summary


def child(mode: str, config: Path, before: Path | None) -> dict:
    """One repetition in its own process; `before` runs this file's flow child on that code."""
    if mode != "before":
        return run_child("bench.prefect_overhead", "--child", mode, str(config))
    env = os.environ | {"PYTHONPATH": str(before)}  # its spokesync (and bench helpers) first
    script = Path(__file__).resolve()
    done = subprocess.run(
        [sys.executable, str(script), "--child", "prefect", str(config)],
        cwd=before, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"--before {before} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", default="1M")
    parser.add_argument("--manifest", default="1M")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("var/bench"))
    parser.add_argument("--before", type=Path, help="a checkout of earlier code to run beside")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "CONFIG"))
    args = parser.parse_args()
    if args.child:
        return answer_child({"bare": bare, "prefect": prefect}, args.child[0], args.child[1:])
    args.work = args.work.absolute()
    args.before = args.before and args.before.absolute()
    about = machine()
    result = measure(args)
    print(
        f"nightly run, {args.manifest} manifest vs {args.catalog} catalog, median of {args.runs}:"
    )
    for mode, what in (("bare", "without Prefect"), ("prefect", "nightly-reconcile flow"),
                       ("before", "the flow before (--before)")):  # fmt: skip
        if mode in result:
            r = result[mode]
            overhead = result.get(f"{mode}_overhead")
            print(f"  {what} {r['seconds']:.2f} s ({r['all_seconds']}; outside steps "
                  f"{r['outside']:.2f} s; load {r['loads']})"
                  + (f": overhead {overhead:.1%} (target <= 10 %)" if overhead is not None
                     else ""))  # fmt: skip
    name = f"prefect_overhead-{args.catalog}-{args.manifest}"
    out = write_result(args.work, name, {"machine": about, "args": vars(args), **result})
    print(f"figures: {os.path.relpath(out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
