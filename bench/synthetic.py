"""Write a synthetic catalog and a spoke drop at data-center scale, fast, straight from DuckDB.

    .venv/bin/python bench/synthetic.py --catalog 1M --manifest 100k [--work var/bench]

The catalog is a real spokesync catalog file (created and migrated by catalog.open_catalog)
whose rows DuckDB generates from a study plan (bench/shape.py); its stored objects point at TAR
members that do not exist, which detection never reads. The drop (manifest.json,
manifest.parquet, deletions.parquet, objects/, ground_truth.json) reports a random subset of
the catalog's studies with a night's changes on about 1 % of them (bench/night.py); only the new
objects are real files. Both are cached under --work, keyed by sizes and seed.
"""

from __future__ import annotations

import argparse
import json
import shutil
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bench import night as ops
from bench.shape import choose_drop, parse_count, plan_studies, schedule
from bench.sqlblocks import run
from simulator.truth import GroundTruth
from spokesync.catalog import open_catalog, transaction
from spokesync.tasks.manifest.schema import FINGERPRINT_VERSION, MANIFEST_FORMAT, MANIFEST_SCHEMA

SQL = "synthetic.sql"
SPOKE = "north"
SEEDED_AT = datetime.fromisoformat("2026-11-26T23:00:00+00:00")
GENERATED_AT = "2026-11-27T23:00:00Z"
ROWS_PER_BATCH = 1_000_000  # manifest rows per Parquet write
CHUNK = 2_000_000  # base rows per Parquet file: bounds the generator's memory
LOADS = ("load_patients", "load_studies", "load_series", "load_stored_objects", "load_instances")


def label(count: int) -> str:
    """1000000 -> 1M, 100000 -> 100k (folder names)."""
    if count % 1_000_000 == 0:
        return f"{count // 1_000_000}M"
    return f"{count // 1_000}k" if count % 1_000 == 0 else str(count)


def ensure_catalog(work: Path, instances: int, seed: int = 1) -> Path:
    """The folder holding plan.parquet, base/*.parquet and catalog.duckdb, built once."""
    folder = Path(work) / f"catalog-{label(instances)}-s{seed}"
    if not (folder / "done.json").exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        build_catalog(folder, instances, seed)
        (folder / "done.json").write_text(json.dumps({"instances": instances, "seed": seed}))
    with open_catalog(folder / "catalog.duckdb"):
        pass  # a cached catalog gets migrations added since, so runs never pay for them
    return folder


def build_catalog(folder: Path, instances: int, seed: int) -> None:
    """Plan the studies, write every instance as a manifest-shaped row, load the catalog."""
    plan = plan_studies(instances, np.random.default_rng(seed))
    pq.write_table(plan, folder / "plan.parquet")
    write_base(plan, folder / "base")
    with open_catalog(folder / "catalog.duckdb") as cat:
        cat.read_parquet(base_files(folder)).create_view("base")
        params = {"spoke": SPOKE, "rows": instances, "at": SEEDED_AT}
        with transaction(cat):
            for step in LOADS:
                run(cat, SQL, step, params)
            run(cat, SQL, "load_run", params)
        run(cat, SQL, "advance_sequences", params).fetchall()
        cat.execute("checkpoint")


def write_base(plan: pa.Table, folder: Path) -> None:
    """Every instance as a manifest-shaped row, in Parquet files of about CHUNK rows each."""
    folder.mkdir()
    con = duckdb.connect()
    run(con, SQL, "uid_macro")
    first = plan.column("first_idx").to_numpy()
    for number, start in enumerate(range(0, int(plan.column("size").to_numpy().sum()), CHUNK)):
        con.register("plan_studies", plan.filter((first >= start) & (first < start + CHUNK)))
        run(con, SQL, "base_rows", {"path": str(folder / f"part-{number:04d}.parquet")})
    con.close()


def base_files(catalog: Path) -> str:
    """The glob of the catalog's base rows (read in name order, which is idx order)."""
    return str(catalog / "base" / "*.parquet")


def ensure_drop(
    work: Path, instances: int, manifest: int, seed: int = 1, rate: float = 0.01
) -> Path:
    """The drop folder for a catalog of `instances` and a manifest of about `manifest` rows."""
    catalog = ensure_catalog(work, instances, seed)
    folder = Path(work) / f"drop-{label(instances)}-{label(manifest)}-s{seed}-r{rate:g}"
    if not (folder / "ground_truth.json").exists():
        partial = folder.with_name(folder.name + ".part")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        build_drop(catalog, partial, manifest, seed, rate)
        shutil.rmtree(folder, ignore_errors=True)
        partial.rename(folder)
    return folder


def build_drop(catalog: Path, out: Path, manifest: int, seed: int, rate: float) -> GroundTruth:
    """Choose tonight's studies and changes, edit the changed ones, write the drop."""
    rng = np.random.default_rng([seed, manifest])
    plan = pq.read_table(catalog / "plan.parquet")
    drop = choose_drop(plan, manifest, rng)
    changes = schedule(drop, rate, rng)
    con = duckdb.connect()
    con.register("drop_studies", drop)
    con.register("changed_studies", pa.table({"study_no": [s for _, ss in changes for s in ss]}))
    base = {"base": base_files(catalog)}
    rows = run(con, SQL, "changed_rows", base).to_arrow_table().to_pylist()
    spare = run(con, SQL, "spare_patients", base | {"count": len(changes)}).to_arrow_table()
    uid_of = {r.pop("study_no"): r["study_instance_uid"] for r in rows}
    night = ops.Night(rows, out, f"bench-{seed}")
    for number, (kind, studies) in enumerate(changes):
        apply_change(night, kind, [uid_of[s] for s in studies], spare.slice(number, 1), number)
    con.register("edited_rows", pa.Table.from_pylist(night.all_rows(), schema=MANIFEST_SCHEMA))
    write_manifest_file(run(con, SQL, "drop_manifest_rows", base), out / "manifest.parquet")
    con.close()
    return write_companions(out, night)


def write_manifest_file(result: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Stream the rows into manifest.parquet as spokesync's own writer lays it out (pyarrow)."""
    with pq.ParquetWriter(path, MANIFEST_SCHEMA) as writer:
        for batch in result.to_arrow_reader(batch_size=ROWS_PER_BATCH):
            writer.write_table(pa.Table.from_batches([batch]).cast(MANIFEST_SCHEMA))


def apply_change(night: ops.Night, kind: str, studies: list[str], spare: pa.Table, n: int) -> None:
    """One scheduled change; `spare` is a catalog patient with no study in the drop."""
    name, _, convention = kind.partition("-")
    if kind in ("correct-study", "correct-series", "correct-patient"):
        attribute = {"study": "study_description", "series": "series_description"}
        ops.correct(night, studies[0], attribute.get(convention, "patient_name"), "impax")
    elif kind == "correct-orthanc":
        ops.correct(night, studies[0], "study_description", "orthanc")
    elif name == "split":
        to = spare.to_pylist()[0] if len(spare) else ops.new_patient(f"S{n:05d}")
        ops.split(night, studies[0], to, convention)
    elif name == "merge":
        ops.merge(night, studies[0], studies[1], into_new=convention == "new")
    elif name == "segment":
        ops.segment(night, studies[0], convention)
    elif kind == "delete-series":
        ops.delete_series(night, studies[0])
    elif kind == "delete-study":
        ops.delete_study(night, studies[0], ("113001", "113037", "113038", "113039")[n % 4])
    elif kind.startswith("fix-uid"):
        ops.fix_uid(night, studies[0], kind.removeprefix("fix-uid-"))
    elif kind == "new-object":
        ops.add_objects(night, night.values(studies[0]), 1 + n % 2, "new-object")
    elif kind == "new-study":
        ops.new_study(night, f"{n:05d}", 1 + n % 3)
    else:
        raise ValueError(f"unknown change kind {kind!r}")


def write_companions(out: Path, night: ops.Night) -> GroundTruth:
    """manifest.json, deletions.parquet (if any) and ground_truth.json beside the manifest."""
    meta = {"spoke": SPOKE, "generated_at": GENERATED_AT, "format": MANIFEST_FORMAT,
            "fingerprint": FINGERPRINT_VERSION}  # fmt: skip
    (out / "manifest.json").write_text(json.dumps(meta, indent=2) + "\n", "utf-8")
    if night.deletions:
        pq.write_table(pa.Table.from_pylist(night.deletions), out / "deletions.parquet")
    truth = GroundTruth(SPOKE, GENERATED_AT, night.records)
    truth.write(out / "ground_truth.json")
    return truth


def main(argv: list[str] | None = None) -> None:
    """Generate (or find cached) the catalog and drop for the sizes given; print where."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", default="1M", help="catalog instances: 1M, 10M, 50M")
    parser.add_argument("--manifest", default="100k", help="drop instances: 100k, 1M, 10M")
    parser.add_argument("--work", type=Path, default=Path("var/bench"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate", type=float, default=0.01, help="share of studies changed")
    args = parser.parse_args(argv)
    n, m = parse_count(args.catalog), parse_count(args.manifest)
    drop = ensure_drop(args.work, n, m, args.seed, args.rate)
    truth = GroundTruth.read(drop / "ground_truth.json")
    rows = pq.ParquetFile(drop / "manifest.parquet").metadata.num_rows
    print(f"catalog {label(n)}: {ensure_catalog(args.work, n, args.seed)}")
    print(f"drop {rows} rows, {len(truth.records)} changes: {drop}")


if __name__ == "__main__":
    main()
