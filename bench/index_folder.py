"""Manifest build from a folder of DICOM files (issue 8 row 4), beside two other readers.

    .venv/bin/python -m bench.index_folder [--files 20000] [--runs 3]

Writes `--files` CT images once (pydicom's CT_small, 39 kB each, in studies of 500 with their
own UIDs and pixel bytes), then per repetition, each in its own process and interleaved:

- `bare`: a bare pydicom header-read loop, `dcmread(path, stop_before_pixels=True)` per file;
- `spokesync`: `tasks.manifest.build.build_drop` as `spokesync manifest build` runs it (header,
  fingerprint of the stored pixel bytes, rejected.csv, objects hard-linked, manifest.parquet);
- `dicomindex`: `dicomindex index_full INDEX FOLDER`, the PyPI tool that indexes DICOM folders
  into SQLite (patients, studies, series, instances), as its command line runs it.

Every file is read from the page cache in every mode (the folder is read once before timing).
The ratio is files per second against the bare loop's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.timing import answer_child, machine, medians, run_child, write_result

PER_STUDY = 500
MODES = ("bare", "spokesync", "dicomindex")


def prepare(work: Path, files: int) -> Path:
    """The source folder with `files` CT images, written once per size."""
    folder, done = work / f"sources-{files}", work / f"sources-{files}.done"
    if done.exists():
        return folder
    from bench.objects import write_ct_study

    shutil.rmtree(folder, ignore_errors=True)
    for study in range(0, files, PER_STUDY):
        write_ct_study(folder, study // PER_STUDY, min(PER_STUDY, files - study))
    done.write_text(str(files))
    return folder


def dicom_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.dcm"))


def bare(folder: Path, out: Path) -> dict:
    import pydicom

    files = dicom_files(folder)
    start = time.perf_counter()
    for path in files:
        pydicom.dcmread(path, stop_before_pixels=True)
    return {"seconds": time.perf_counter() - start, "files": len(files)}


def spokesync(folder: Path, out: Path) -> dict:
    from spokesync.tasks.manifest.build import build_drop

    start = time.perf_counter()
    result = build_drop(folder, "bench", out)
    seconds = time.perf_counter() - start
    if result.rejected:
        raise SystemExit(f"{result.rejected} files rejected: see {result.rejected_path}")
    return {"seconds": seconds, "files": result.rows_written}


def dicomindex(folder: Path, out: Path) -> dict:
    """The other tool, by its own command (its progress bar goes to stderr)."""
    tool = Path(sys.executable).with_name("dicomindex")
    index = out / "index.sqlite"
    start = time.perf_counter()
    subprocess.run([str(tool), "index_full", str(index), str(folder)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "files": _indexed(index)}


def _indexed(index: Path) -> int:
    """How many instances the other tool's index holds (it must have read every file)."""
    import sqlite3

    with sqlite3.connect(index) as con:
        return con.execute("select count(*) from instance").fetchone()[0]


def measure(work: Path, folder: Path, runs: int, other_runs: int | None = None) -> dict:
    """Interleaved repetitions of every mode into empty output folders; medians.

    `other_runs` (default `runs`) limits the other tool's repetitions: at 20,000 files one of
    its runs takes as long as all the others together.
    """
    for path in dicom_files(folder):  # into the page cache, so every mode reads the same way
        path.read_bytes()
    results: dict[str, list[dict]] = {mode: [] for mode in MODES}
    for rep in range(runs):
        for mode in MODES:
            if mode == "dicomindex" and rep >= (runs if other_runs is None else other_runs):
                continue
            out = work / "out" / mode
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            results[mode].append(
                run_child("bench.index_folder", "--child", mode, str(folder), str(out))
            )
        print(f"  run {rep + 1}: " + ", ".join(
            f"{m} {r[-1]['seconds']:.1f} s" for m, r in results.items()), flush=True)  # fmt: skip
    shutil.rmtree(work / "out", ignore_errors=True)
    summary = {}
    for mode, rows in results.items():
        if any(r["files"] != rows[0]["files"] for r in rows):
            raise SystemExit(f"{mode} read a different number of files between runs")
        rate = statistics.median(r["files"] / r["seconds"] for r in rows)
        summary[mode] = medians(rows) | {"files": rows[0]["files"], "files_per_s": rate}
    bare_rate = summary["bare"]["files_per_s"]
    for mode in MODES:
        summary[mode]["vs_bare"] = summary[mode]["files_per_s"] / bare_rate
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--other-runs", type=int, help="repetitions of dicomindex (default --runs)")
    parser.add_argument("--work", type=Path, default=Path("var/bench/index"))
    parser.add_argument("--child", nargs=3, metavar=("MODE", "FOLDER", "OUT"))
    args = parser.parse_args()
    if args.child:
        modes = {"bare": bare, "spokesync": spokesync, "dicomindex": dicomindex}
        return answer_child(modes, args.child[0], args.child[1:])
    work = args.work.absolute()
    about = machine()
    folder = prepare(work, args.files)
    result = measure(work, folder, args.runs, args.other_runs)
    print(f"{args.files} files, median of {args.runs}:")
    for mode, row in result.items():
        print(f"  {mode}: {row['files_per_s']:.0f} files/s, {row['vs_bare']:.2f} x bare loop "
              f"({row['all_seconds']} s, peak RSS {row['peak_rss'] / 2**20:.0f} MiB)")  # fmt: skip
    print("targets: spokesync >= 0.80 x bare loop and faster than dicomindex")
    out = write_result(
        work.parent, "index_folder", {"machine": about, "args": vars(args), **result}
    )
    print(f"figures: {os.path.relpath(out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
