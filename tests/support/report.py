"""A demo-like two-night hub for report tests: every change kind, cross-spoke edits, reports.

Night 1: north archives its studies; south archives its own (with twins) plus copies of two
north studies. Night 2: north splits, segments, corrects study A and fixes a UID, and sends two
rows without a fingerprint; south merges, deletes, adds a study, blurs its twins, corrects
north's study B (an ownership violation) and still holds the old A (a stale copy).
Each run is reconciled with `run_spoke` and reported with `write_reports`, as the flow does.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import simulator as sim
from spokesync.tasks.config import add_spoke, init_config, load_config
from spokesync.tasks.reconcile.run import run_spoke
from spokesync.tasks.reports.tables import write_reports

NORTH_CORRECTION = "CT CHEST (CORRECTED)"
SOUTH_CORRECTION = "CT CHEST (SOUTH)"
BLANKED = 2  # manifest rows north sends without a fingerprint on night 2


@dataclass
class Scenario:
    """The hub and what the test needs to know about what happened."""

    config: object
    runs: list[str] = field(default_factory=list)
    reports: list = field(default_factory=list)
    truth: dict[str, sim.GroundTruth] = field(default_factory=dict)
    north: list[str] = field(default_factory=list)  # north's study UIDs before night 2
    south: list[str] = field(default_factory=list)  # south's own study UIDs before night 2
    blanked: list[str] = field(default_factory=list)  # SOP UIDs sent without a fingerprint

    @property
    def stale_study(self) -> str:
        return self.north[3]

    @property
    def foreign_study(self) -> str:
        return self.north[2]


def with_copies(drop: Path, donor: Path, studies: list[str], out: Path) -> Path:
    """`drop` plus the donor's rows (and objects) of `studies`: a spoke holding others' copies."""
    shutil.copytree(drop, out)
    donor_rows = pq.read_table(donor / "manifest.parquet")
    rows = donor_rows.filter(pc.is_in(donor_rows.column("study_instance_uid"), pa.array(studies)))
    uris = []
    for uri in rows.column("object_uri").to_pylist():
        target = Path("objects") / "copies" / uri
        (out / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(donor / uri, out / target)
        uris.append(str(target))
    rows = rows.set_column(rows.schema.get_field_index("object_uri"), "object_uri", pa.array(uris))
    own = pq.read_table(out / "manifest.parquet")
    pq.write_table(pa.concat_tables([own, rows.cast(own.schema)]), out / "manifest.parquet")
    return out


def blank_fingerprints(drop: Path, study: str, count: int) -> list[str]:
    """Null the fingerprint of `count` rows of `study` (a spoke that could not compute them)."""
    path = drop / "manifest.parquet"
    table = pq.read_table(path)
    rows = table.to_pylist()
    chosen = sorted(r["sop_instance_uid"] for r in rows if r["study_instance_uid"] == study)
    chosen = chosen[:count]
    for row in rows:
        if row["sop_instance_uid"] in chosen:
            row["fingerprint"] = None
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), path)
    return chosen


def reconcile_and_report(scenario: Scenario, spoke: str) -> None:
    result = run_spoke(scenario.config, spoke, allow_mass_delete=True)
    scenario.runs.append(result["run_id"])
    scenario.reports += write_reports(scenario.config, result["run_id"])


def night_one(root: Path, drops: dict[str, Path]) -> Scenario:
    file = init_config(root / "hub")
    north = sim.study_uids(sim.manifest_of(drops["north"]))
    twins = root / "drops" / "south-twins"
    south_table = sim.manifest_of(drops["south"])
    south = sim.study_uids(south_table)
    sim.apply_operations(drops["south"], [sim.AddTwins(south[4])], twins, seed="report-twins")
    south_drop = with_copies(twins, drops["north"], [north[2], north[3]], root / "drops" / "s1")
    add_spoke(file, "north", drops["north"])
    add_spoke(file, "south", south_drop)
    scenario = Scenario(load_config(file), north=north, south=south)
    for spoke in ("north", "south"):
        reconcile_and_report(scenario, spoke)
    return scenario


def night_two_ops(scenario: Scenario, spoke: str, table) -> list:
    n, s = scenario.north, scenario.south
    if spoke == "north":
        return [
            sim.split_half(table, n[0], "orthanc"),
            sim.segment_in_two(table, n[1], "impax"),
            sim.Correct("study", n[3], "study_description", NORTH_CORRECTION, "impax"),
            sim.fix_uid(table, n[4], "impax"),
        ]
    return [
        sim.merge_studies(table, s[0:2], "impax"),
        sim.DeleteStudy(s[2], "113039"),
        sim.delete_last_series(table, s[3]),
        sim.Ambiguous(s[4]),
        sim.NewStudy(sim.PatientRef("S-9001", "FAKE^NEWCOMER", "20000101", "F"), 2, "impax"),
        sim.Correct("study", n[2], "study_description", SOUTH_CORRECTION, "impax"),
    ]


def night_two(scenario: Scenario, root: Path) -> Scenario:
    for spoke in ("north", "south"):
        current = scenario.config.spokes[spoke].drop
        out = root / "drops" / f"{spoke}-night2"
        ops = night_two_ops(scenario, spoke, sim.manifest_of(current))
        scenario.truth[spoke] = sim.apply_operations(current, ops, out, seed=f"report-{spoke}")
        if spoke == "north":
            scenario.blanked = blank_fingerprints(out, scenario.north[2], BLANKED)
        add_spoke(scenario.config.file, spoke, out)
        scenario.config = load_config(scenario.config.file)
        reconcile_and_report(scenario, spoke)
    return scenario


def build_scenario(root: Path, drops: dict[str, Path]) -> Scenario:
    """Both nights, reconciled and reported; returns what tests check against."""
    scenario = night_one(root, drops)
    scenario.config.policies.max_delete_fraction = 1.0
    return night_two(scenario, root)


@pytest.fixture(scope="session")
def report_scenario(tmp_path_factory, sample_drops) -> Scenario:
    """The two-night hub, built once per session; tests that change it work on a copy."""
    return build_scenario(tmp_path_factory.mktemp("report-hub"), sample_drops)
