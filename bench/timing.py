"""What every benchmark shares: one repetition per child process, medians, the machine."""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def peak_rss() -> int:
    """This process's peak resident set size in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run_child(module: str, *args: str, env: dict | None = None, cwd: Path = ROOT) -> dict:
    """Run `python -m module args` in a fresh interpreter; its last stdout line is its JSON.
    `cwd` another checkout runs that checkout's code (a before/after in the same run)."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd, capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args)} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def answer_child(modes: dict, mode: str, paths: list[str]) -> None:
    """In a child: load what a worker has loaded, run one mode, print its JSON line."""
    from bench.run_once import warm_up

    warm_up()
    print(json.dumps(modes[mode](*map(Path, paths)) | {"peak_rss": peak_rss()}))


def medians(runs: list[dict], keys: tuple[str, ...] = ("seconds",)) -> dict:
    """The median of each key over the repetitions, every value, and the worst peak RSS."""
    out = {key: statistics.median(r[key] for r in runs) for key in keys}
    out["all_seconds"] = [round(r["seconds"], 3) for r in runs]
    out["peak_rss"] = max(r.get("peak_rss", 0) for r in runs)
    return out


def machine() -> dict:
    """What the figures were measured on, and how busy it was when they started."""
    info = Path("/proc/meminfo").read_text().splitlines()
    memory = next(int(line.split()[1]) * 1024 for line in info if line.startswith("MemTotal:"))
    cpu = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in cpu if line.startswith("model name")),
                 platform.machine())  # fmt: skip
    import duckdb
    import pyarrow
    import pydicom

    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "memory_gib": round(memory / 1024**3, 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pyarrow": pyarrow.__version__,
        "pydicom": pydicom.__version__,
        "system": platform.platform(),
    }


def write_result(work: Path, name: str, document: dict) -> Path:
    """Keep one benchmark's figures as JSON under work/results."""
    out = Path(work) / "results" / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return out
