"""Where `stage_manifest`'s time goes: copying the manifest into DuckDB, and its 64-bit keys.

The pairing's first block (catalog/sql/detect.sql `stage_manifest`) copies every column of the
staged manifest into the temp table `man` and adds three MD5-based keys per row (SOP UID, study
UID, fingerprint). This times, on the same file in one process, each variant three times:

- `copy`: the same copy without keys (what is left if keys cost nothing);
- `keys`: the block as it is (three `uid_key` calls per row);
- `study_once`: the study key computed once per distinct study UID and joined back (a study
  holds hundreds of rows; SOP UIDs and fingerprints are one per row and gain nothing).

    .venv/bin/python -m bench.stage_keys var/bench/drop-10M-10M-s1-r0.01/manifest.parquet

The catalog's memory cap (3 GiB) and DuckDB's default threads, as a run has them.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import duckdb

from spokesync.catalog.connection import MEMORY_LIMIT

COLUMNS = "* exclude (sop_instance_uid, study_instance_uid, fingerprint)"
KEYS = {
    "copy": f"select {COLUMNS}, sop_instance_uid, study_instance_uid, fingerprint from m",
    "keys": f"select {COLUMNS}, sop_instance_uid, study_instance_uid, fingerprint, "
    "uid_key(sop_instance_uid) as sop_key, uid_key(study_instance_uid) as study_key, "
    "uid_key(fingerprint) as fp_key from m",
    "study_once": "with k as (select study_instance_uid, uid_key(study_instance_uid) as study_key "
    "from (select distinct study_instance_uid from m)) "
    f"select m.{COLUMNS}, m.sop_instance_uid, m.study_instance_uid, m.fingerprint, "
    "uid_key(m.sop_instance_uid) as sop_key, k.study_key, uid_key(m.fingerprint) as fp_key "
    "from m left join k using (study_instance_uid)",
}


def time_variant(manifest: Path, query: str, spill: Path) -> float:
    config = {"memory_limit": MEMORY_LIMIT, "temp_directory": str(spill)}
    with duckdb.connect(config=config) as con:
        con.execute("create macro uid_key(value) as md5_number_lower(value)")
        con.read_parquet(str(manifest)).create_view("m")
        start = time.perf_counter()
        con.execute(f"create temp table man as {query}")
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    spill = args.manifest.parent / "stage_keys.tmp"
    seconds: dict[str, list[float]] = {name: [] for name in KEYS}
    for _ in range(args.runs):
        for name, query in KEYS.items():  # interleaved, so drift hits every variant alike
            seconds[name].append(time_variant(args.manifest, query, spill))
    for name, values in seconds.items():
        runs = ", ".join(f"{v:.2f}" for v in values)
        print(f"{name:>10}: median {statistics.median(values):.2f} s [{runs}]")


if __name__ == "__main__":
    main()
