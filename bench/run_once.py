"""One timed repetition in its own process, so that its peak RSS is its own (prints JSON).

    python -m bench.run_once reconcile CONFIG DROP
    python -m bench.run_once baseline CATALOG MANIFEST

`reconcile` calls the steps of tasks/reconcile/run.py's run_spoke one by one (stage, plan, archive,
commit) and scores the records the run wrote against the drop's ground_truth.json; `baseline`
is the bare DuckDB full outer join of the manifest and the catalog's instances on SOP UID.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import duckdb

BASELINE_SQL = """
select count(*) as rows_, count(m.sop_instance_uid) as manifest_side,
       count(i.instance_id) as catalog_side
from read_parquet($manifest) m
full outer join instances i using (sop_instance_uid)
"""


def warm_up() -> None:
    """Load what the first query or Parquet read would import lazily (pandas, Arrow datasets).

    A nightly worker process has them loaded already; without bytecode caches (as with
    PYTHONDONTWRITEBYTECODE=1) they would add about two seconds to whichever step came first.
    """
    import pandas  # noqa: F401
    import pyarrow.acero  # noqa: F401
    import pyarrow.dataset  # noqa: F401

    duckdb.connect().execute("select $x::integer", {"x": 1}).fetchone()


def peak_rss() -> int:
    """This process's peak resident set size in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def current_rss() -> int:
    """This process's resident set size now, in bytes (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def baseline(catalog: Path, manifest: Path) -> dict:
    """Time the bare join: open the catalog read-only, join, count."""
    start = time.perf_counter()
    con = duckdb.connect(str(catalog), read_only=True)
    rows, left, right = con.execute(BASELINE_SQL, {"manifest": str(manifest)}).fetchone()
    con.close()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows": rows, "manifest_side": left, "catalog_side": right}


STEPS = ("stage", "plan", "archive", "commit")


def reconcile(config_file: Path, drop: Path) -> dict:
    """Time each step of one run of spoke `north`, then score its records."""
    from bench.scoring import expected_keys, found_keys, tally
    from simulator.truth import GroundTruth
    from spokesync.tasks.config import load_config

    config = load_config(config_file)
    imported = current_rss()
    result, marks, peaks = timed_steps(config, drop)
    truth = GroundTruth.read(drop / "ground_truth.json")
    scored = tally([(expected_keys(truth), found_keys(config.catalog, result["run_id"]))])
    return {
        "seconds": marks[-1] - marks[0],
        "steps": dict(zip(STEPS, _gaps(marks), strict=True)),
        "manifest_rows": result["manifest_rows"],
        "deleting": result["deleting"],
        "new_instances": result["new_instances"],
        "cc_records": result["cc_records"],
        "accuracy": scored,
        "rss_after_imports": imported,
        "peak_rss_after": dict(zip(STEPS, peaks, strict=True)),
    }


def timed_steps(config, drop: Path) -> tuple[dict, list[float], list[int]]:
    """run_spoke's steps one by one: the run's summary, clock marks and peak RSS after each."""
    from spokesync.tasks.nearline.archive import stage_batch
    from spokesync.tasks.reconcile.run import commit_run, new_run, plan_run, stage_manifest

    marks, peaks = [time.perf_counter()], []

    def mark() -> None:
        marks.append(time.perf_counter())
        peaks.append(peak_rss())

    state = stage_manifest(new_run(config, "north", drop))
    mark()
    state = plan_run(config, state, allow_mass_delete=True)
    mark()
    day = state.started_at.date()
    batches = [
        stage_batch(state.drop, path, config.volumes, state.run_id, day)
        for path in state.batch_paths
    ]
    mark()
    result = commit_run(config, state, batches)
    mark()
    return result, marks, peaks


def _gaps(marks: list[float]) -> list[float]:
    """Seconds between consecutive clock marks."""
    return [b - a for a, b in zip(marks, marks[1:], strict=False)]


def main(argv: list[str]) -> None:
    """Run one mode and print its figures as one line of JSON (the parent reads the last line)."""
    mode, first, second = argv
    work = {"reconcile": reconcile, "baseline": baseline}[mode]
    warm_up()
    result = work(Path(first), Path(second))
    result["peak_rss"] = peak_rss()
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
