"""Rebuilding a lost catalog from nearline (issue 16): instances re-indexed per second.

    .venv/bin/python -m bench.rebuild [--objects 2000] [--matrix 64] [--runs 3]

Writes one study of `--objects` CT images, archives it once on a fresh hub, then per
repetition removes the catalog and times `rebuild_catalog`: every TAR's index member and
SHA256SUMS read, every run inserted through the archive's own SQL. A second measure removes the
index member's help: the TARs are read as TARs from before the index, through each
member's DICOM header and a fresh fingerprint (`use_index=False`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from pathlib import Path

SPOKE = "bench"


def archived_hub(work: Path, objects: int, matrix: int) -> Path:
    """A hub that archived one study of `objects` CT images once."""
    from bench.objects import write_ct_study
    from spokesync.tasks.config import add_spoke, init_config, load_config
    from spokesync.tasks.manifest.build import build_drop
    from spokesync.tasks.reconcile.run import run_spoke

    shutil.rmtree(work, ignore_errors=True)
    write_ct_study(work / "sources", 0, objects, matrix=matrix)
    build_drop(work / "sources", SPOKE, work / "drop")
    file = init_config(work / "hub")
    add_spoke(file, SPOKE, work / "drop")
    run_spoke(load_config(file), SPOKE)
    return file


def time_rebuild(file: Path, headers: bool) -> float:
    """Seconds to rebuild the catalog of `file` from its nearline."""
    from spokesync.tasks.config import load_config
    from spokesync.tasks.nearline import rebuild

    config = load_config(file)
    os.remove(config.catalog)
    started = time.perf_counter()
    rebuild.rebuild_catalog(config, use_index=not headers)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--matrix", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("var/bench-rebuild"))
    args = parser.parse_args()
    file = archived_hub(args.work, args.objects, args.matrix)
    for label, headers in (("index member", False), ("DICOM headers", True)):
        seconds = [time_rebuild(file, headers) for _ in range(args.runs)]
        median = statistics.median(seconds)
        print(f"{label}: {args.objects} instances in {median:.2f} s (median of {args.runs}): "
              f"{args.objects / median:,.0f} instances/s")  # fmt: skip
    shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    main()
