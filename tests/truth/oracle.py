"""The spoke-truth oracle: one night of spoke operations, then every check of issue 15.

A night applies operations to the spoke's files, builds a drop with `spokesync manifest build`,
reconciles it, and then checks: the run's cc records are the ones the operations imply; the
same drop reconciled again creates no record (DESIGN §4 rule 1), before and after the night's
UID fixes are approved (rule 5); every study the spoke holds, and every study that left its
cache, comes back from `spokesync retrieve` object by object as the spoke's files are (§8);
`spokesync verify` is clean.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from spokesync.catalog.errors import SpokesyncError
from tests.truth.compare import by_sop, differences
from tests.truth.hub import Hub
from tests.truth.moves import PENDING, Expected
from tests.truth.scenario import OPERATIONS, messy_spoke
from tests.truth.spoke import FileSpoke


@dataclass
class Night:
    """What one night showed; `problems()` is empty when the hub got everything right."""

    operations: list[str]
    expected: list[Expected] = field(default_factory=list)
    found: list[Expected] = field(default_factory=list)
    rerun_records: list[int] = field(default_factory=list)
    differing: list[str] = field(default_factory=list)  # "study sop: what differs"
    errors: list[str] = field(default_factory=list)
    refused: bool = False  # the hub refused the night's input (nothing was reconciled)

    def problems(self) -> list[str]:
        found = list(self.errors)
        if sorted(self.found) != sorted(self.expected):
            found.append(f"records: expected {sorted(self.expected)}, found {sorted(self.found)}")
        if any(self.rerun_records):
            found.append(f"reconciling the same drop again created {self.rerun_records} records")
        return found + self.differing


def start(hub: Hub, spoke: FileSpoke, *, messy: bool = True) -> Night:
    """The first night: the messy spoke archived as it is."""
    night = Night(["initial"], expected=messy_spoke(spoke, messy=messy))
    return reconcile_and_check(hub, spoke, night)


def run_night(
    hub: Hub, spoke: FileSpoke, operations: list[tuple[str, int]], *, objects: bool = True
) -> Night:
    """Apply `operations` (name, pick) to the spoke's files, each to studies no other one
    changed tonight, then reconcile and check (the objects too, unless `objects` is False)."""
    night = Night([])
    spoke.touched.clear()
    for name, pick in operations:
        implied = OPERATIONS[name](spoke, pick)
        if implied is not None:
            night.operations.append(name)
            night.expected.extend(implied)
            spoke.touched.update(s for _k, _st, src, dst in implied for s in src + dst)
    return reconcile_and_check(hub, spoke, night, objects=objects)


def run_sequence(hub: Hub, spoke: FileSpoke, nights: list[list[tuple[str, int]]]) -> list[Night]:
    """Nights in turn; the objects are compared after the last one (every night checks its
    records, its rerun and verify). A night whose input the hub refused ends the sequence:
    what the next nights would record depends on what the hub made of the refusal."""
    done = []
    for n, ops in enumerate(nights):
        done.append(run_night(hub, spoke, ops, objects=n == len(nights) - 1))
        if done[-1].refused:
            break
    return done


def reconcile_and_check(hub: Hub, spoke: FileSpoke, night: Night, *, objects: bool = True) -> Night:
    """Build the spoke's drop (with its explicit deletions), reconcile it and check."""
    drop = hub.build(spoke.folder)
    if spoke.deletions:
        pq.write_table(pa.Table.from_pylist(spoke.deletions), drop / "deletions.parquet")
        spoke.deletions.clear()
    if reconcile_night(hub, night) and objects:
        truth = {study: spoke.facts(study) for study in spoke.held(everything=True)}
        night.differing = check_objects(hub, truth | spoke.aged_studies(), next_out(hub))
    verify_into(hub, night)
    return night


def reconcile_night(hub: Hub, night: Night) -> bool:
    """Reconcile, note the run's records, rerun before and after approving its UID fixes;
    False when the run refused the spoke's input."""
    try:
        run = hub.reconcile()
    except SpokesyncError as exc:
        night.errors.append(f"reconcile refused the spoke's input: {exc}")
        night.refused = True
        return False
    records = hub.records(run["run_id"])
    night.found = [(r["kind"], r["status"], tuple(r["source_study_uids"]),
                    tuple(r["target_study_uids"])) for r in records]  # fmt: skip
    night.rerun_records.append(hub.reconcile()["cc_records"])
    for record in records:
        if record["kind"] == "UID_FIX" and record["status"] == PENDING:
            _approve(hub, record["seq"], night)
            night.rerun_records.append(hub.reconcile()["cc_records"])
    return True


def next_out(hub: Hub) -> Path:
    hub.retrievals += 1
    return hub.folder / f"out-{hub.retrievals:03d}"


def _approve(hub: Hub, seq: int, night: Night) -> None:
    """An administrator approves the night's UID fix (DESIGN §4 rule 5)."""
    try:
        hub.approve(seq)
    except AssertionError as exc:
        night.errors.append(f"approving record {seq} failed: {exc}")


def verify_into(hub: Hub, night: Night) -> None:
    try:
        hub.verify()
    except AssertionError as exc:
        night.errors.append(f"verify found problems: {exc}")


def check_objects(hub: Hub, truth: dict[str, dict[str, dict]], out: Path) -> list[str]:
    """Each study of `truth` ({study: {SOP UID: facts}}) retrieved and compared object by
    object."""
    found = []
    for n, (study, held) in enumerate(sorted(truth.items())):
        try:
            sent = by_sop(hub.retrieve(study, out / str(n)).values())
        except AssertionError as exc:
            found.append(f"{study}: retrieve failed: {str(exc).splitlines()[-1]}")
            continue
        found += [f"{study} {line}" for line in differences(held, sent)]
    return found


def archived(folder: Path, *, messy: bool = True) -> tuple[Hub, FileSpoke, Night]:
    """The messy spoke and a hub that archived it (the first night), to copy per sequence."""
    spoke, hub = FileSpoke(folder / "spoke"), Hub(folder)
    return hub, spoke, start(hub, spoke, messy=messy)


def copy_of(hub: Hub, spoke: FileSpoke, to: Path) -> tuple[Hub, FileSpoke]:
    """A private copy of an archived hub and its spoke. The catalog names volumes, not paths
    (DESIGN §7), so the copied hub reads its own copy of the TARs."""
    shutil.copytree(hub.folder / "hub", to / "hub")
    shutil.copytree(spoke.folder, to / "spoke")
    return Hub(to), FileSpoke(to / "spoke", name=spoke.name, minted=spoke.minted)
