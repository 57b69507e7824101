"""Load: the nightly flow over several synthetic spokes of many instances each, timed, with RSS.

    .venv/bin/python -m bench.load [--spokes 8] [--instances 100k] [--work var/load]

Each spoke gets its own synthetic catalog part (bench/synthetic.py's generator, its study,
patient and instance numbers offset so that no UID, patient or fingerprint of two spokes meet),
loaded into one hub catalog, and a drop reporting all its studies with a night's changes on
about 1 % of them (bench/night.py); only the night's new objects are real (small) files. The
nightly-reconcile flow then runs once over every spoke, in a child process with Prefect (its
own temporary server unless PREFECT_API_URL is set). Printed as JSON: wall time per spoke (stage
start to commit end), from the first stage to the last commit, and for the whole flow call
(with the temporary server's start), the flow process's peak RSS and the largest of the process
tree (the flow and the Prefect server it started). Inputs are cached under --work; the hub is
rebuilt for every run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bench import synthetic
from bench.shape import parse_count, plan_studies
from bench.sqlblocks import run
from spokesync.catalog import open_catalog, transaction

SPOKE_NAMES = ("north", "south", "east", "west", "centre", "coast", "hills", "lakes")
OFFSET = 1_000_000  # numbers of spoke k start at k * OFFSET: no two spokes share a UID
OFFSET_COLUMNS = ("study_no", "first_idx", "patient_no")


def spoke_part(work: Path, number: int, instances: int, seed: int) -> Path:
    """Spoke `number`'s plan.parquet and base/ rows (cached), numbers offset past the others."""
    folder = work / f"part-{number}-{synthetic.label(instances)}-s{seed}"
    if not (folder / "done.json").exists():
        shutil.rmtree(folder, ignore_errors=True)
        (folder / "base").mkdir(parents=True)
        plan = plan_studies(instances, np.random.default_rng([seed, number]))
        for column in OFFSET_COLUMNS:
            shifted = pc.add(plan.column(column), number * OFFSET)
            plan = plan.set_column(plan.schema.get_field_index(column), column, shifted)
        pq.write_table(plan, folder / "plan.parquet")
        write_base(plan, folder / "base" / "part-0000.parquet")
        (folder / "done.json").write_text(json.dumps({"instances": instances}))
    return folder


def write_base(plan: pa.Table, path: Path) -> None:
    """Every instance of the plan as a manifest-shaped row (one file: a spoke is small)."""
    con = duckdb.connect()
    run(con, synthetic.SQL, "uid_macro")
    con.register("plan_studies", plan)
    run(con, synthetic.SQL, "base_rows", {"path": str(path)})
    con.close()


def spoke_drop(part: Path, spoke: str, instances: int, seed: int, number: int) -> Path:
    """The spoke's drop of about `instances` rows (cached), its manifest.json naming `spoke`."""
    folder = part.with_name(part.name + "-drop")
    if not (folder / "ground_truth.json").exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        synthetic.build_drop(part, folder, instances, seed * 100 + number, 0.01)
    meta = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps(meta | {"spoke": spoke}, indent=2) + "\n")
    return folder


def build_hub(work: Path, spokes: int, instances: int, seed: int) -> Path:
    """A fresh hub whose catalog holds every spoke's part; returns its spokesync.toml."""
    from spokesync.tasks.config import add_spoke, init_config, load_config

    shutil.rmtree(work / "hub", ignore_errors=True)
    file = init_config(work / "hub")
    parts = [spoke_part(work, n, instances, seed) for n in range(spokes)]
    with open_catalog(load_config(file).catalog) as cat:
        for number, part in enumerate(parts):
            load_part(cat, part, SPOKE_NAMES[number], instances, first=number == 0)
        run(cat, synthetic.SQL, "advance_sequences", {"rows": spokes * OFFSET}).fetchall()
        cat.execute("checkpoint")
    for number, part in enumerate(parts):
        spoke = SPOKE_NAMES[number]
        add_spoke(file, spoke, spoke_drop(part, spoke, instances, seed, number))
    return file


def load_part(cat: duckdb.DuckDBPyConnection, part: Path, spoke: str, rows: int, first: bool):
    """Insert one spoke's catalog rows, owned by `spoke` (the seeding run is recorded once)."""
    cat.read_parquet(synthetic.base_files(part)).create_view("base", replace=True)
    params = {"spoke": spoke, "rows": rows, "at": synthetic.SEEDED_AT}
    with transaction(cat):
        for step in synthetic.LOADS:
            run(cat, synthetic.SQL, step, params)
        if first:
            run(cat, synthetic.SQL, "load_run", params)


def night(config_file: Path) -> dict:
    """Run the nightly flow once (this process); its figures, peak RSS of this process."""
    from spokesync.flows.reconcile import nightly_reconcile

    started = time.time()
    results = nightly_reconcile(config_file=str(config_file))
    total = time.time() - started
    spokes = {
        spoke: {
            "status": r["status"],
            "manifest_rows": r["manifest_rows"],
            "new_instances": r["new_instances"],
            "cc_records": r["cc_records"],
            "replanned": r["replanned"],
            "seconds": r["steps"]["commit"][1] - r["steps"]["stage"][0],
        }
        for spoke, r in results.items()
    }
    steps = [r["steps"] for r in results.values()]
    span = max(s["commit"][1] for s in steps) - min(s["stage"][0] for s in steps)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"flow_seconds": total, "spokes_seconds": span, "spokes": spokes, "flow_peak_rss": rss}


def measure(config_file: Path, env: dict[str, str] | None = None) -> dict:
    """The night in a child process: its own figures plus the process tree's largest peak RSS.

    `env` adds to the environment (PREFECT_API_URL: a running server instead of a temporary one).
    """
    env = os.environ | {"PREFECT_SERVER_ANALYTICS_ENABLED": "false"} | (env or {})
    started = time.time()
    done = subprocess.run(
        [sys.executable, "-m", "bench.load", "--night", str(config_file)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the nightly run failed:\n{done.stderr[-4000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["process_seconds"] = time.time() - started
    figures["tree_peak_rss"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spokes", type=int, default=8)
    parser.add_argument("--instances", default="100k", help="instances per spoke: 100k, 5k")
    parser.add_argument("--work", type=Path, default=Path("var/load"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--night", type=Path, help=argparse.SUPPRESS)  # the child's mode
    args = parser.parse_args(argv)
    if args.night:
        print(json.dumps(night(args.night)))
        return
    instances = parse_count(args.instances)
    if not 1 <= args.spokes <= len(SPOKE_NAMES) or instances >= OFFSET:
        parser.error(f"at most {len(SPOKE_NAMES)} spokes of fewer than {OFFSET} instances")
    started = time.time()
    config_file = build_hub(args.work.absolute(), args.spokes, instances, args.seed)
    built = time.time() - started
    figures = measure(config_file)
    print(json.dumps({"spokes": args.spokes, "instances": instances, "build_seconds": built}
                     | figures))  # fmt: skip


if __name__ == "__main__":
    main()
