"""The bad-input corpus (tests/data/bad/): every case is refused with an error that names the
file, row, column or UID and the fix, and neither the catalog, nearline nor the drop changes;
except the non-conformant values real PACS send, which are archived as sent and reported."""

from __future__ import annotations

import json
import shutil

import pyarrow.parquet as pq
import pytest

from spokesync.catalog import errors
from spokesync.tasks.config import add_spoke, init_config, load_config
from spokesync.tasks.nearline.volume_check import scan_tar
from spokesync.tasks.reconcile.run import run_spoke
from tests.support.bad_inputs import CORPUS, Expect, case_names, load_expect, materialise
from tests.support.detection import copy_hub, export, file_hashes, nearline_files

HUB_GENERATED_AT = "2026-01-01T00:00:00Z"  # the corpus's drops are newer, stale_manifest older


@pytest.fixture(scope="module")
def base_hub(tmp_path_factory, sample_drops):
    """A hub that archived north once from a manifest of a known date; each case copies it."""
    root = tmp_path_factory.mktemp("bad-inputs")
    drop = root / "north"
    shutil.copytree(sample_drops["north"], drop)
    meta = json.loads((drop / "manifest.json").read_text())
    (drop / "manifest.json").write_text(json.dumps({**meta, "generated_at": HUB_GENERATED_AT}))
    file = init_config(root / "hub")
    add_spoke(file, "north", drop)
    run_spoke(load_config(file), "north")
    return root / "hub"


def attempt(case: Expect, config, drop):
    """Run the case the way it reaches the hub; return the error raised, or the run's summary."""
    try:
        if case.run == "scan_tar":
            return scan_tar(drop / case.file)
        return run_spoke(config, case.spoke, drop=drop)
    except errors.SpokesyncError as exc:
        return exc


def test_the_corpus_has_at_least_25_cases_each_with_a_known_expectation():
    names = case_names()
    assert len(names) >= 25
    for name in names:
        assert (CORPUS / name / "expect.toml").is_file(), f"{name} has no expect.toml"
        case = load_expect(name)
        assert case.what and (case.error == "" or hasattr(errors, case.error)), name


def test_every_case_the_corpus_writer_knows_is_committed_and_none_other():
    from tests.support.bad_corpus_cases import CASES

    assert sorted(case.case for case in CASES) == case_names()


@pytest.mark.parametrize("name", case_names())
def test_bad_input_is_refused_by_name_and_changes_nothing(base_hub, tmp_path, name):
    case = load_expect(name)
    drop = materialise(case, tmp_path / "drop")
    config = copy_hub(base_hub, tmp_path / "hub", "north", drop)
    before, files, sent = export(config), nearline_files(config), file_hashes(drop)
    outcome = attempt(case, config, drop)
    assert file_hashes(drop) == sent
    if case.reported:
        return archived_and_reported(case, outcome, config, files)
    assert nearline_files(config) == files
    if not case.error:  # accepted: a run is recorded, but no instance changes
        assert outcome["cc_records"] == 0 and outcome["new_instances"] == 0
        assert outcome["deleting"] == 0 and export(config)["instances"] == before["instances"]
        return
    assert type(outcome).__name__ == case.error, outcome
    message = str(outcome)
    for word in case.named():
        assert word in message, f"{word!r} not in {message!r}"
    assert export(config) == before


def archived_and_reported(case: Expect, outcome, config, files_before) -> None:
    """The drop's three objects are archived, and the run's data quality names the row and
    column (never the value)."""
    assert isinstance(outcome, dict), outcome
    assert outcome["status"] == "committed" and outcome["new_instances"] == 3
    assert len(nearline_files(config)) == len(files_before) + 1
    found = pq.read_table(config.work / outcome["run_id"] / "data_quality.parquet").to_pylist()
    assert [(f["kind"], f["row_id"] + 1, f["column"]) for f in found] == [
        ("value_over_vr_limit", case.row, case.reported)
    ]
    assert "limit); archived as sent" in found[0]["problem"] and found[0]["file"] == case.file
