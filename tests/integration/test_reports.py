"""Report files after each run: layout, content, the CLI, a held catalog lock, a crash mid-write."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from spokesync.catalog import open_catalog
from spokesync.catalog.errors import CatalogLocked
from spokesync.catalog.report_views import open_reports, query
from spokesync.catalog.reports import TABLES
from spokesync.flows.cli.main import app
from spokesync.tasks.config import load_config
from spokesync.tasks.reconcile.run import run_spoke
from spokesync.tasks.reports.tables import clean_temporaries, write_reports
from tests.support.report import report_scenario  # noqa: F401  (session fixture)

ROOT = Path(__file__).parents[2]
runner = CliRunner()


@pytest.fixture
def scenario(report_scenario):  # noqa: F811
    return report_scenario


def copy_hub(scenario, to: Path):
    """A private copy of the reported hub, its reports.duckdb re-pointed at the copy's files."""
    shutil.copytree(scenario.config.file.parent, to)
    config = load_config(to / "spokesync.toml")
    refreshed = cli(config, "refresh")
    assert refreshed.exit_code == 0 and "reports are up to date" in refreshed.stdout
    con = duckdb.connect(str(config.reports / "reports.duckdb"), read_only=True)
    try:  # the views now read the copy's files, not the original's
        views = "select sql from duckdb_views() where view_name = 'runs_history'"
        ((sql,),) = con.execute(views).fetchall()
        assert str(config.reports.absolute()) in sql
    finally:
        con.close()
    return config


def snapshot(reports: Path) -> dict[str, list[dict]]:
    """Every report table as the CLI would show it."""
    con = open_reports(reports)
    try:
        return {name: query(con, name).to_pylist() for name in TABLES}
    finally:
        con.close()


def cli(config, *args: str):
    return runner.invoke(app, ["report", *args, "--config", str(config.file)])


def test_each_run_writes_one_file_per_table_in_its_date_partition(scenario):
    root = scenario.config.reports
    for report in scenario.reports:
        for table in TABLES:
            path = root / table / f"date={report.day.isoformat()}" / f"{report.run_id}.parquet"
            assert (
                pq.read_table(path).column("report_run_id").to_pylist()
                == [report.run_id] * report.rows[table]
            )
    assert not list(root.glob("**/*.tmp"))
    con = duckdb.connect(str(root / "reports.duckdb"), read_only=True)
    try:
        assert con.execute("select count(*) from duckdb_tables()").fetchone() == (0,)
        views = {r[0] for r in con.execute("select view_name from duckdb_views()").fetchall()}
        assert set(TABLES) <= views and "pending_backlog" in views
        assert con.execute("select count(*) from runs").fetchone() == (len(scenario.runs),)
    finally:
        con.close()


def test_changes_report_holds_every_cc_record_with_the_ground_truth_of_night_two(scenario):
    rows = snapshot(scenario.config.reports)["changes"]
    with open_catalog(scenario.config.catalog) as con:
        seqs = [r[0] for r in con.execute("select seq from cc_records order by seq").fetchall()]
    assert [r["seq"] for r in rows] == seqs
    night_two = set(scenario.runs[2:])
    got = sorted(
        (r["kind"], r["status"], tuple(r["source_study_uids"]), tuple(r["target_study_uids"]))
        for r in rows
        if r["run_id"] in night_two
    )
    expected = sorted(
        (e.kind, e.status, tuple(e.source_study_uids), tuple(e.target_study_uids))
        for truth in scenario.truth.values()
        for e in truth.records
    )
    assert got == expected


def test_report_cli_filters_by_spoke_and_since_in_every_format(scenario, tmp_path):
    config = scenario.config
    south = json.loads(cli(config, "changes", "--spoke", "south", "--format", "json").stdout)
    assert south and {r["spoke_id"] for r in south} == {"south"}
    later = cli(config, "runs", "--since", "2999-01-01", "--format", "json")
    assert later.exit_code == 0 and json.loads(later.stdout) == []
    csv_text = cli(config, "pending-review", "--format", "csv").stdout.splitlines()
    assert csv_text[0].startswith("seq,spoke_id,kind") and len(csv_text) == 3
    out = tmp_path / "stale.parquet"
    assert cli(config, "stale-copies", "--format", "parquet", "--out", str(out)).exit_code == 0
    assert pq.read_table(out).column("study_instance_uid").to_pylist() == [scenario.stale_study]
    shown = cli(config, "ownership")
    assert shown.exit_code == 0 and "ownership (1 rows)" in shown.stdout
    bad = cli(config, "nearline", "--format", "xml")
    assert bad.exit_code == 2 and "'xml' is not one of" in bad.output  # refused by typer


def test_report_on_a_hub_without_reports_says_how_to_get_them(hub):
    result = runner.invoke(app, ["report", "runs", "--config", str(hub.file)])
    assert result.exit_code == 2 and "no reports under" in result.stdout


HOLD_MID_RUN = textwrap.dedent(
    """
    import sys, time
    from spokesync.tasks.config import load_config
    from spokesync.tasks.reconcile import commit
    from spokesync.tasks.reconcile import run as reconcile

    real = commit.apply_plan

    def held(con, *args, **kwargs):  # inside commit: writer lock held, catalog file open
        print("holding", flush=True)
        time.sleep(300)
        return real(con, *args, **kwargs)

    commit.apply_plan = held
    reconcile.run_spoke(load_config(sys.argv[1]), "north")
    """
)


def test_report_query_succeeds_while_another_process_holds_the_catalog_mid_run(scenario, tmp_path):
    config = copy_hub(scenario, tmp_path / "hub")
    before = snapshot(config.reports)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_MID_RUN, str(config.file)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(CatalogLocked), open_catalog(config.catalog, wait=False):
            pass
        result = cli(config, "changes", "--format", "json")
        assert result.exit_code == 0, result.stdout
        shown = [(r["seq"], r["kind"], r["status"]) for r in json.loads(result.stdout)]
        assert shown == [(r["seq"], r["kind"], r["status"]) for r in before["changes"]]
        page = tmp_path / "report.html"
        assert cli(config, "html", "--out", str(page)).exit_code == 0
        assert page.stat().st_size > 100_000
        assert holder.poll() is None  # the run was still holding the catalog throughout
    finally:
        holder.kill()
        holder.wait()


CRASH = textwrap.dedent(
    """
    import os, sys
    from spokesync.tasks.config import load_config
    from spokesync.tasks.reports import tables as reports
    from spokesync.tasks.reconcile.run import run_spoke

    config = load_config(sys.argv[1])
    run_id = run_spoke(config, "north")["run_id"]  # a third night: nothing changed
    calls = []
    if sys.argv[2] == "mid-file":
        real = reports.write_temporary

        def crashing(table, final):
            temp = real(table, final)
            calls.append(temp)
            if len(calls) == 3:  # half of the third file is on disk, then the process dies
                temp.write_bytes(temp.read_bytes()[: temp.stat().st_size // 2])
                os._exit(9)
            return temp

        reports.write_temporary = crashing
    else:
        real = os.replace

        def crashing(src, dst):
            calls.append(dst)
            if len(calls) == 3:  # two tables renamed into place, then the process dies
                os._exit(9)
            real(src, dst)

        reports.os.replace = crashing
    print(run_id, flush=True)
    reports.write_reports(config, run_id)
    """
)


@pytest.mark.parametrize("moment", ["mid-file", "between-renames"])
def test_a_crash_while_writing_a_report_leaves_the_previous_files_readable(
    scenario, tmp_path, moment
):
    config = copy_hub(scenario, tmp_path / "hub")
    before = snapshot(config.reports)
    done = subprocess.run(
        [sys.executable, "-c", CRASH, str(config.file), moment],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 9, done.stderr
    crashed_run = done.stdout.strip()
    for path in config.reports.glob("**/*.parquet"):
        pq.read_table(path)  # every visible file is complete
    after = snapshot(config.reports)
    assert after["runs"] == before["runs"] and after["pending_review"] == before["pending_review"]
    # records the crashed run renamed into place before dying are complete rows of their own
    assert [r for r in after["changes"] if r["run_id"] != crashed_run] == before["changes"]
    if moment == "mid-file":
        assert after == before
    con = duckdb.connect(str(config.reports / "reports.duckdb"), read_only=True)
    try:
        assert con.execute("select count(*) from runs").fetchone() == (len(scenario.runs),)
    finally:
        con.close()
    assert clean_temporaries(config.reports, older_than=0) > 0  # what the crash left behind
    assert not list(config.reports.glob("**/*.tmp"))

    caught_up = write_reports(config)
    assert [r.run_id for r in caught_up] == [crashed_run]
    assert len(snapshot(config.reports)["runs"]) == len(scenario.runs) + 1


def test_every_report_view_block_runs_on_the_report_views(scenario):
    from spokesync.catalog.report_views import CHARTS, _blocks

    con = open_reports(scenario.config.reports)
    try:
        queries = [n for n in _blocks() if n.startswith("report_query_")]
        assert {f"report_query_{t}" for t in (*TABLES, *CHARTS)} == set(queries)
        for name in queries:
            text = _blocks()[name]
            params = {p: None for p in ("spoke", "since") if f"${p}" in text}
            assert con.execute(f"explain {text}", params).fetchall()
    finally:
        con.close()


def test_reporting_a_run_again_replaces_its_files_and_changes_no_answer(scenario, tmp_path):
    config = copy_hub(scenario, tmp_path / "hub")
    before = snapshot(config.reports)
    files = sorted(config.reports.glob("**/*.parquet"))
    again = write_reports(config, scenario.runs[-1])
    assert [r.run_id for r in again] == [scenario.runs[-1]]
    assert sorted(config.reports.glob("**/*.parquet")) == files
    after = snapshot(config.reports)
    assert after["changes"] == before["changes"] and after["runs"] == before["runs"]
    assert [r["seq"] for r in after["pending_review"]] == [
        r["seq"] for r in before["pending_review"]
    ]


def test_a_review_decision_reaches_the_changes_report_with_the_next_run(scenario, tmp_path):
    from spokesync.catalog.review import approve

    config = copy_hub(scenario, tmp_path / "hub")
    (fix,) = [r for r in snapshot(config.reports)["pending_review"] if r["kind"] == "UID_FIX"]
    with open_catalog(config.catalog) as con:
        decision = approve(con, fix["seq"], by="analyst").seq
    run_id = run_spoke(config, "south")["run_id"]
    write_reports(config, run_id)
    after = snapshot(config.reports)
    assert fix["seq"] not in [r["seq"] for r in after["pending_review"]]
    (row,) = [r for r in after["changes"] if r["seq"] == fix["seq"]]
    assert row["decision"] == "applied"
    assert [r["refers_to"] for r in after["changes"] if r["seq"] == decision] == [fix["seq"]]
