"""Manifest build from a folder of DICOM files (issue 8 row 4, issue 19's folder-scan row),
beside a bare pydicom loop measured in the same run.

    .venv/bin/python -m bench.index_folder [--files 20000] [--runs 3] [--other-runs 1]

Writes `--files` CT images once (pydicom's CT_small, 39 kB each, in studies of 500 with their
own UIDs and pixel bytes), then per repetition, each in its own process and interleaved:

- `bare`: a bare pydicom header-read loop, `dcmread(path, stop_before_pixels=True)` per file,
  in one process (the baseline);
- `spokesync`: `tasks.manifest.build.build_drop` as `spokesync manifest build` runs it (every
  manifest column, fingerprint of the stored pixel bytes, rejected.csv, objects hard-linked,
  manifest.parquet) with its default workers (2 processes on 2 cores);
- `spokesync-1`: the same build in one process, for the per-core cost beside the bare loop;
- `dicomindex` (only with `--other-runs N`): `dicomindex index_full INDEX FOLDER`, the PyPI tool
  that indexes DICOM folders into SQLite, as its command line runs it.

Every file is read from the page cache in every mode (the folder is read once before timing).
The ratio is files per second against the bare loop's; the 1-minute load average before each
run is kept beside it (the machine may be shared). Results go to var/bench/results/index_folder.json
and, as Markdown rows to paste into docs/benchmarks-scan.md, to standard output.
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
MODES = ("bare", "spokesync", "spokesync-1", "dicomindex")
TARGET = 2.0  # issue 19: >= 2 x the bare loop on 2 cores


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


def spokesync(folder: Path, out: Path, workers: int | None = None) -> dict:
    from spokesync.tasks.manifest.build import build_drop

    start = time.perf_counter()
    result = build_drop(folder, "bench", out, workers=workers)
    seconds = time.perf_counter() - start
    if result.rejected:
        raise SystemExit(f"{result.rejected} files rejected: see {result.rejected_path}")
    return {"seconds": seconds, "files": result.rows_written}


def spokesync_one(folder: Path, out: Path) -> dict:
    return spokesync(folder, out, workers=1)


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


def measure(work: Path, folder: Path, runs: int, other_runs: int = 0) -> dict:
    """Interleaved repetitions of every mode into empty output folders; medians.

    `other_runs` sets the other tool's repetitions (none by default: at 20,000 files one of
    its runs takes as long as all the others together)."""
    for path in dicom_files(folder):  # into the page cache, so every mode reads the same way
        path.read_bytes()
    results: dict[str, list[dict]] = {mode: [] for mode in MODES}
    for rep in range(runs):
        for mode in MODES:
            if mode == "dicomindex" and rep >= other_runs:
                continue
            out = work / "out" / mode
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            load = os.getloadavg()[0]
            row = run_child("bench.index_folder", "--child", mode, str(folder), str(out))
            results[mode].append(row | {"load_1min": round(load, 2)})
        print(f"  run {rep + 1}: " + ", ".join(
            f"{m} {r[-1]['seconds']:.1f} s (load {r[-1]['load_1min']})"
            for m, r in results.items() if r), flush=True)  # fmt: skip
    shutil.rmtree(work / "out", ignore_errors=True)
    return summarise({mode: rows for mode, rows in results.items() if rows})


def summarise(results: dict[str, list[dict]]) -> dict:
    """Per mode: median files/s, its ratio to the bare loop's, every run's seconds and load."""
    summary = {}
    for mode, rows in results.items():
        if any(r["files"] != rows[0]["files"] for r in rows):
            raise SystemExit(f"{mode} read a different number of files between runs")
        rate = statistics.median(r["files"] / r["seconds"] for r in rows)
        summary[mode] = medians(rows) | {"files": rows[0]["files"], "files_per_s": rate,
                                         "loads": [r["load_1min"] for r in rows]}  # fmt: skip
    bare_rate = summary["bare"]["files_per_s"]
    for row in summary.values():
        row["vs_bare"] = row["files_per_s"] / bare_rate
    return summary


def markdown(files: int, runs: int, result: dict) -> str:
    """The results as table rows for docs/benchmarks-scan.md."""
    lines = ["| mode | files/s (median) | × bare loop | seconds per run | load (1 min) per run |",
             "|---|---|---|---|---|"]  # fmt: skip
    for mode, row in result.items():
        lines.append(f"| {mode} | {row['files_per_s']:.0f} | {row['vs_bare']:.2f} | "
                     f"{row['all_seconds']} | {row['loads']} |")  # fmt: skip
    return f"{files} files, median of {runs}:\n" + "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--other-runs", type=int, default=0, help="repetitions of dicomindex")
    parser.add_argument("--work", type=Path, default=Path("var/bench/index"))
    parser.add_argument("--child", nargs=3, metavar=("MODE", "FOLDER", "OUT"))
    args = parser.parse_args()
    if args.child:
        modes = {"bare": bare, "spokesync": spokesync, "spokesync-1": spokesync_one,
                 "dicomindex": dicomindex}  # fmt: skip
        return answer_child(modes, args.child[0], args.child[1:])
    work = args.work.absolute()
    about = machine()
    folder = prepare(work, args.files)
    result = measure(work, folder, args.runs, args.other_runs)
    print(markdown(args.files, args.runs, result))
    verdict = "met" if result["spokesync"]["vs_bare"] >= TARGET else "missed"
    print(f"target: spokesync >= {TARGET} x the bare loop on 2 cores: {verdict}")
    out = write_result(
        work.parent, "index_folder", {"machine": about, "args": vars(args), **result}
    )
    print(f"figures: {os.path.relpath(out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
