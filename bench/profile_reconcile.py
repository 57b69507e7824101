"""Where a reconcile spends its time: every named SQL block profiled by DuckDB, per step.

    .venv/bin/python bench/profile_reconcile.py --catalog 1M --manifest 100k
    .venv/bin/python bench/profile_reconcile.py --catalog 10M --explain stage_catalog_side

Runs the steps of one run_spoke on a fresh copy of the synthetic catalog with DuckDB's JSON
profiling on for each statement of each `-- name:` block (catalog/sql), and prints the slowest
blocks with the rows they scanned and their costliest operator; blocks named by --explain are
profiled as EXPLAIN ANALYZE trees instead and printed whole. Nothing in catalog/ is changed:
spokesync.catalog.queries is wrapped for the length of this process only.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import spokesync.catalog.queries as queries
from bench.reconcile import fresh_hub
from bench.run_once import warm_up
from bench.shape import parse_count
from bench.synthetic import ensure_catalog, ensure_drop, label


class Profiler:
    """Runs named blocks statement by statement, keeping DuckDB's profile of each."""

    def __init__(self, folder: Path, explain: set[str], operators: bool = True) -> None:
        self.folder, self.explain, self.operators = folder, explain, operators
        self.blocks: list[dict] = []
        self.step = "stage"
        folder.mkdir(parents=True, exist_ok=True)

    def timed_open(self, open_catalog):
        """Wrap open_catalog: lock + connect + migrate, and close (DuckDB checkpoints there)."""

        @contextmanager
        def opened(path, **kwargs):
            start = time.perf_counter()
            manager = open_catalog(path, **kwargs)
            con = manager.__enter__()
            self.blocks.append(_timing("(open catalog)", start, self.step))
            try:
                yield con
            except BaseException:
                manager.__exit__(*sys.exc_info())
                raise
            start = time.perf_counter()
            manager.__exit__(None, None, None)
            self.blocks.append(_timing("(close catalog: checkpoint)", start, self.step))

        return opened

    def run(self, con, name: str, params: dict | None = None):
        return self._execute(con, name, [queries.sql(name)], params)

    def run_script(self, con, name: str, params: dict | None = None) -> None:
        parts = [p.strip() for p in queries.sql(name).split(";\n") if p.strip()]
        self._execute(con, name, parts, params)

    def _execute(self, con, name: str, statements: list[str], params: dict | None):
        result = None
        for number, statement in enumerate(statements):
            tree = name in self.explain
            out = (
                self.folder / f"{len(self.blocks):03d}-{name}-{number}.{'txt' if tree else 'json'}"
            )
            if self.operators or tree:
                con.execute(f"set enable_profiling = '{'query_tree' if tree else 'json'}'")
                con.execute(f"set profiling_output = '{out}'")
            used = set(queries._PARAM.findall(statement))
            start = time.perf_counter()
            cursor = con.execute(statement, {k: v for k, v in (params or {}).items() if k in used})
            # fetch now: the next statement on this connection would discard the result
            result = _Fetched(
                cursor.description, cursor.to_arrow_table() if cursor.description else None
            )
            seconds = time.perf_counter() - start
            if self.operators or tree:
                con.execute("pragma disable_profiling")
            self.blocks.append(
                {"block": name, "part": number, "seconds": seconds, "file": out, "step": self.step}
            )
        return result


def _timing(name: str, start: float, step: str) -> dict:
    """A block entry for something timed outside SQL (opening or closing the catalog)."""
    seconds = time.perf_counter() - start
    return {"block": name, "part": 0, "seconds": seconds, "file": Path("-"), "step": step}


class _Fetched:
    """A block's result, fetched inside the timed region; answers as a DuckDB cursor would."""

    def __init__(self, description, table) -> None:
        self.description, self.table = description, table

    def to_arrow_table(self):
        return self.table

    def fetchall(self) -> list[tuple]:
        return list(zip(*(c.to_pylist() for c in self.table.columns), strict=True))

    def fetchone(self):
        rows = self.fetchall()
        return rows[0] if rows else None


def costliest(profile: dict) -> tuple[str, float, int]:
    """The operator with the largest own time: 'NAME on table', seconds, rows it produced."""
    best = ("", 0.0, 0)
    stack = list(profile.get("children", []))
    while stack:
        node = stack.pop()
        stack.extend(node.get("children", []))
        if node.get("operator_timing", 0) > best[1]:
            info = node.get("extra_info", {})
            where = f" on {info['Table']}" if isinstance(info, dict) and "Table" in info else ""
            best = (
                node["operator_name"] + where,
                node["operator_timing"],
                node.get("operator_cardinality", 0),
            )
        # fmt: skip
    return best


def block_table(blocks: list[dict], top: int) -> str:
    """The `top` slowest statements with rows scanned and their costliest operator."""
    lines = [
        "| step | block | s | rows scanned | costliest operator (s, rows out) |",
        "|---|---|---|---|---|",
    ]
    for b in sorted(blocks, key=lambda b: -b["seconds"])[:top]:
        if b["file"].name == "-":
            lines.append(f"| {b['step']} | {b['block']} | {b['seconds']:.3f} | | |")
            continue
        if not b["file"].exists():
            lines.append(f"| {b['step']} | {b['block']}/{b['part']} | {b['seconds']:.3f} | | |")
            continue
        if b["file"].suffix != ".json":
            lines.append(f"| {b['step']} | {b['block']} | {b['seconds']:.3f} | (tree below) | |")
            continue
        profile = json.loads(b["file"].read_text())
        operator, seconds, rows = costliest(profile)
        scanned = profile.get("cumulative_rows_scanned", 0)
        where = f"| {b['step']} | {b['block']}/{b['part']} | {b['seconds']:.3f} "
        lines.append(where + f"| {scanned:,} | {operator} ({seconds:.3f}, {rows:,}) |")
    return "\n".join(lines)


def totals_table(blocks: list[dict], top: int) -> str:
    """Seconds per block summed over its calls (a block run once per range shows here)."""
    totals: dict[tuple[str, str], list[float]] = {}
    for b in blocks:
        totals.setdefault((b["step"], b["block"]), []).append(b["seconds"])
    lines = ["| step | block | calls | s in all |", "|---|---|---|---|"]
    for (step, name), times in sorted(totals.items(), key=lambda kv: -sum(kv[1]))[:top]:
        lines.append(f"| {step} | {name} | {len(times)} | {sum(times):.3f} |")
    return "\n".join(lines)


@contextmanager
def profiled(profiler: Profiler):
    """Route spokesync.catalog.queries through the profiler; time opening the catalog."""
    import spokesync.tasks.reconcile.commit
    import spokesync.tasks.reconcile.planning

    modules = (
        spokesync.tasks.reconcile.planning,
        spokesync.tasks.reconcile.commit,
    )  # the steps that open the catalog
    saved = queries.run, queries.run_script, [m.open_catalog for m in modules]
    queries.run, queries.run_script = profiler.run, profiler.run_script
    for module in modules:
        module.open_catalog = profiler.timed_open(module.open_catalog)
    try:
        yield profiler
    finally:
        queries.run, queries.run_script, opens = saved
        for module, opened in zip(modules, opens, strict=True):
            module.open_catalog = opened


def profile_steps(config_file: Path, drop: Path, profiler: Profiler) -> dict[str, float]:
    """Run stage, plan, archive and commit with profiling; return each step's seconds."""
    from spokesync.tasks.config import load_config
    from spokesync.tasks.nearline.archive import stage_batch
    from spokesync.tasks.reconcile.run import commit_run, new_run, plan_run, stage_manifest

    config, steps = load_config(config_file), {}
    with profiled(profiler):
        start = time.perf_counter()
        state = stage_manifest(new_run(config, "north", drop))
        steps["stage"] = time.perf_counter() - start
        profiler.step = "plan"
        state = plan_run(config, state, allow_mass_delete=True)
        steps["plan"] = time.perf_counter() - start - sum(steps.values())
        day = state.started_at.date()
        batches = [
            stage_batch(drop, p, config.volumes, state.run_id, day) for p in state.batch_paths
        ]
        steps["archive"] = time.perf_counter() - start - sum(steps.values())
        profiler.step = "commit"
        commit_run(config, state, batches)
        steps["commit"] = time.perf_counter() - start - sum(steps.values())
    return steps


def main(argv: list[str] | None = None) -> None:
    """Profile one run on a fresh copy of the catalog and print the slowest blocks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", default="1M")
    parser.add_argument("--manifest", default="100k")
    parser.add_argument("--work", type=Path, default=Path("var/bench"))
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--explain", action="append", default=[], help="block to print as a tree")
    parser.add_argument(
        "--times-only", action="store_true", help="no operator profiling (it slows scans down)"
    )
    args = parser.parse_args(argv)
    work, n, m = args.work.absolute(), parse_count(args.catalog), parse_count(args.manifest)
    drop, name = ensure_drop(work, n, m), f"{label(n)}-{label(m)}"
    hub = work / "hubs" / f"profile-{name}"
    config = fresh_hub(hub, ensure_catalog(work, n), drop)
    warm_up()
    folder = work / "profiles" / name
    shutil.rmtree(folder, ignore_errors=True)
    profiler = Profiler(folder, set(args.explain), operators=not args.times_only)
    try:
        steps = profile_steps(config, drop, profiler)
    finally:
        shutil.rmtree(hub, ignore_errors=True)
    in_blocks = sum(b["seconds"] for b in profiler.blocks)
    print(", ".join(f"{k} {v:.2f} s" for k, v in steps.items()), f"(SQL blocks {in_blocks:.2f} s)")
    print(block_table(profiler.blocks, args.top))
    print(totals_table(profiler.blocks, args.top))
    for b in profiler.blocks:
        if b["file"].suffix == ".txt" and b["file"].exists():
            print(f"\n### {b['block']} part {b['part']}\n{b['file'].read_text()}")


if __name__ == "__main__":
    main()
