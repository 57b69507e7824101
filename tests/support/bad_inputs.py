"""The bad-input corpus as the tests see it: each case's expectation, and the few cases built
at test time because git cannot carry them well (a 10 MB value, symlinks out of the drop)."""

from __future__ import annotations

import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

CORPUS = Path(__file__).parents[1] / "data" / "bad"
TEN_MB = 10 * 1024 * 1024


@dataclass(frozen=True)
class Expect:
    """What one case's expect.toml promises: the error and what its message must name."""

    case: str
    what: str
    error: str  # the exception class; "" when the drop must be accepted and change nothing
    file: str = ""
    phrase: str = ""
    fix: str = ""
    row: int | None = None
    column: str = ""
    uid: str = ""
    run: str = "reconcile"  # or "scan_tar": the case is a nearline TAR, not a drop
    spoke: str = "north"
    build: str = ""  # a function of BUILDERS finishes the drop at test time
    reported: str = ""  # archived as sent, and this column named in the run's data quality

    def named(self) -> list[str]:
        """The words the error message must contain (file, row, column, UID, problem, fix)."""
        words = [self.file, self.column, self.uid, self.phrase, self.fix]
        if self.row is not None:
            words.append(f"row {self.row}")
        return [w for w in words if w]


def case_names() -> list[str]:
    return sorted(p.name for p in CORPUS.iterdir() if p.is_dir())


def load_expect(case: str) -> Expect:
    with (CORPUS / case / "expect.toml").open("rb") as f:
        return Expect(case, **tomllib.load(f))


def materialise(case: Expect, to: Path) -> Path:
    """Copy the case's drop to `to` (symlinks kept as links) and run its builder, if any."""
    shutil.copytree(CORPUS / case.case, to, symlinks=True, ignore=shutil.ignore_patterns("*.toml"))
    if case.build:
        BUILDERS[case.build](to)
    return to


def value_10mb(drop: Path) -> None:
    """Row 2's study description becomes 10 MB long (a PACS that put a report in it)."""
    table = pacsv.read_csv(drop / "manifest.csv")
    values = table.column("study_description").to_pylist()
    values[1] = "X" * TEN_MB
    index = table.column_names.index("study_description")
    table = table.set_column(index, "study_description", pa.array(values, pa.string()))
    pacsv.write_csv(table, drop / "manifest.csv")


def object_symlink_out(drop: Path) -> None:
    """objects/<second sop>.dcm becomes a link to a copy of itself outside the drop."""
    target = _second_object(drop)
    outside = drop.parent / f"outside-{drop.name}.dcm"
    shutil.move(target, outside)
    target.symlink_to(outside)


def objects_folder_symlink_out(drop: Path) -> None:
    """The whole objects/ folder moves out of the drop and is linked back in."""
    outside = drop.parent / f"outside-{drop.name}-objects"
    shutil.move(drop / "objects", outside)
    (drop / "objects").symlink_to(outside, target_is_directory=True)


def _second_object(drop: Path) -> Path:
    uri = pacsv.read_csv(drop / "manifest.csv").column("object_uri")[1].as_py()
    return drop / uri


BUILDERS = {
    "value_10mb": value_10mb,
    "object_symlink_out": object_symlink_out,
    "objects_folder_symlink_out": objects_folder_symlink_out,
}
