"""Crash at every step (issue 9): a real run is SIGKILLed at each durable step, then run again.

After every kill the catalog is exactly as before the run or as after a clean run, every stored
object is where the catalog says with the right SHA-256, `verify` names what the killed run left
in nearline, and a normal re-run ends with the clean run's catalog and nearline content.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

import simulator as sim
from spokesync.catalog import open_catalog
from spokesync.catalog.faults import RETRIEVE_POINTS, RUN_POINTS
from spokesync.tasks.config import add_spoke, load_config
from spokesync.tasks.nearline.verify import verify_nearline
from tests.support.detection import split_delete_correct
from tests.support.kill import Runner, catalog_export, nearline_content

COMMITTED_AT = RUN_POINTS.index("committed")  # from here on the run's changes are in the catalog
# Every run point once, and the rename of the second TAR: the first is in place, the rest not.
RUN_CASES = [(p, 1) for p in RUN_POINTS] + [("tar-renamed", 2)]
STORED_SQL = """
select i.sop_instance_uid, o.sha256 from instances i join stored_objects o using (object_id)
where i.study_instance_uid = ? and i.status = 'active'
"""
PROBLEMS = {"missing_tar", "corrupt_member", "missing_member", "unreadable_tar"}


@pytest.fixture(scope="module")
def runner():
    started = Runner()
    yield started
    started.close()


@pytest.fixture(scope="module")
def drop(archived, sample_drops, tmp_path_factory) -> Path:
    """North after a split, a deleted series, a corrected description and three new series."""
    table = sim.manifest_of(sample_drops["north"])
    studies = sim.study_uids(table)
    ops = [
        *split_delete_correct(table),
        sim.AddObject(studies[1], "PR"),
        sim.AddObject(studies[4], "SC"),
        sim.NewStudy(sim.PatientRef(table.column("patient_id")[0].as_py()), 3),
    ]
    folder = tmp_path_factory.mktemp("kill") / "drop"
    sim.apply_operations(sample_drops["north"], ops, folder)
    return folder


def hub_copy(archived: Path, to: Path, drop: Path):
    """A whole copy of the archived hub, nearline included: the catalog names its volume, so
    the copy reads and writes its own."""
    shutil.copytree(archived, to)
    add_spoke(to / "spokesync.toml", "north", drop)
    return load_config(to / "spokesync.toml")


def base_runs(config) -> set[str]:
    with open_catalog(config.catalog) as con:
        return {r[0] for r in con.execute("select run_id from runs").fetchall()}


def state(config, base: set[str]) -> tuple[dict, dict]:
    return catalog_export(config, base), nearline_content(config.volumes[0])


def reconcile(runner: Runner, config, case: Path, kill_at: str | None = None) -> int:
    args = (config.file, "north", case / "result.json")
    return runner.run("reconcile", *args, kill_at=kill_at, mark=case / "killed-at")


@pytest.fixture(scope="module")
def clean(runner, archived, drop, tmp_path_factory):
    """The catalog and nearline content after one run that nobody killed."""
    case = tmp_path_factory.mktemp("clean")
    config = hub_copy(archived, case / "hub", drop)
    base = base_runs(config)
    before = state(config, base)
    assert reconcile(runner, config, case) == 0
    after = state(config, base)
    assert len(after[1]["tars"]) - len(before[1]["tars"]) == 3 and after[0] != before[0]
    return before, after


@pytest.mark.parametrize(("point", "nth"), RUN_CASES)
def test_a_run_killed_at_any_step_leaves_a_whole_catalog_and_the_rerun_converges(
    runner, archived, drop, clean, tmp_path, point, nth
):
    (catalog_before, _), (catalog_after, nearline_after) = clean
    config = hub_copy(archived, tmp_path / "hub", drop)
    base = base_runs(config)
    status = reconcile(runner, config, tmp_path, kill_at=f"{point},{nth}")
    assert (status, (tmp_path / "killed-at").read_text()) == (-9, f"{point},{nth}\n")
    committed = RUN_POINTS.index(point) >= COMMITTED_AT
    killed_catalog, killed_nearline = state(config, base)
    assert killed_catalog == (catalog_after if committed else catalog_before)
    if committed:  # the run's TARs are in place and named by the catalog
        assert killed_nearline == nearline_after
    assert leftovers(config, base) == expected_leftovers(point, nth)
    assert reconcile(runner, config, tmp_path) == 0
    final_catalog, final_nearline = state(config, base)
    if committed:  # the re-run found nothing to do and says so in a run row of its own
        rerun = json.loads((tmp_path / "result.json").read_text())
        assert (rerun["cc_records"], rerun["tars_written"]) == (0, 0)
        final_catalog = without_new_row(final_catalog, catalog_after, "runs")
    assert final_catalog == catalog_after
    assert final_nearline == nearline_after
    assert set_aside(config, base) == sum(expected_leftovers(point, nth).values())


def set_aside(config, base: set[str]) -> int:
    """verify's only findings after the re-run: the killed run's files, moved aside under
    orphans/<run>/ on the volume (nothing deleted)."""
    findings, _ = verify_nearline(config)
    assert {f.kind for f in findings} <= {"set_aside"}
    committed = base_runs(config)
    killed = {w.name for w in config.work.iterdir() if w.name not in committed}
    assert {f.relpath.split("/")[1] for f in findings} <= killed
    return len(findings)


def expected_leftovers(point: str, nth: int) -> Counter:
    """What the killed run leaves on the volume: half-written or unpublished TARs (partial),
    TARs renamed into place that no catalog row will name (orphan); of 3 TARs in all. The
    re-run moves each of them aside, where verify lists them (set_aside)."""
    if point in ("object-staged", "tar-written"):
        return Counter(partial_tar=1)
    if point == "tar-renamed":
        return Counter(orphan_tar=nth, partial_tar=3 - nth)
    if RUN_POINTS.index(point) < COMMITTED_AT:
        return Counter(orphan_tar=3)
    return Counter()


def leftovers(config, base: set[str]) -> Counter:
    """verify's findings, all of them the killed run's, after checking that nothing the catalog
    names is missing or damaged."""
    findings, _ = verify_nearline(config)
    assert [f for f in findings if f.kind in PROBLEMS] == []
    (killed,) = [w.name for w in config.work.iterdir() if w.name not in base]
    assert all(killed in f.relpath for f in findings)
    return Counter(f.kind for f in findings)


def without_new_row(catalog: dict, reference: dict, table: str) -> dict:
    extra = [row for row in catalog[table] if row not in reference[table]]
    assert len(extra) == 1 and len(catalog[table]) == len(reference[table]) + 1
    return catalog | {table: [row for row in catalog[table] if row != extra[0]]}


@pytest.mark.parametrize("point", RETRIEVE_POINTS)
def test_a_retrieval_killed_midway_leaves_no_partial_file_under_a_final_name(
    runner, archived, sample_drops, tmp_path, point
):
    config = hub_copy(archived, tmp_path / "hub", sample_drops["north"])
    base = base_runs(config)
    study = sim.study_uids(sim.manifest_of(sample_drops["north"]))[1]
    with open_catalog(config.catalog) as con:
        stored = {r[0]: r[1] for r in con.execute(STORED_SQL, [study]).fetchall()}
    before = catalog_export(config, base)
    out = tmp_path / "out"
    status = runner.run("retrieve", config.file, study, out, kill_at=f"{point},2",
                        mark=tmp_path / "killed-at")  # fmt: skip
    assert (status, (tmp_path / "killed-at").read_text()) == (-9, f"{point},2\n")
    delivered = {f.stem: sha256(f) for f in out.rglob("*.dcm")}
    assert len(delivered) == (2 if point == "object-renamed" else 1)
    assert all(stored[sop] == digest for sop, digest in delivered.items())
    assert catalog_export(config, base) == before
    assert runner.run("retrieve", config.file, study, out) == 0
    assert {f.stem: sha256(f) for f in out.rglob("*") if f.is_file()} == stored


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
