"""The review queue can be worked (issue 18): `review show` gives full UIDs as CSV or JSON,
`review pairing-template` writes the file `review approve --pairing` accepts once a person
fills it, and after a decision (CLI or the apply-review flow's own function) `changes list` and
`review show` say the record is decided and which record decided it, and the reports carry
the decision without waiting for the next run."""

from __future__ import annotations

import csv
import io
import json

from typer.testing import CliRunner

from spokesync.catalog import read_catalog
from spokesync.catalog.review import record
from spokesync.flows.cli.main import app
from spokesync.flows.review import decide
from spokesync.tasks.reports.tables import write_reports
from tests.integration.test_review import ambiguous, uid_fix  # noqa: F401  (uid_fix: a fixture)

runner = CliRunner()


def cli(config, *args):
    return runner.invoke(app, [*args, "--config", str(config.file)], terminal_width=80)


def changes(config) -> dict[int, dict]:
    result = cli(config, "changes", "list", "--format", "json")
    assert result.exit_code == 0, result.output
    return {r["seq"]: r for r in json.loads(result.stdout)}


def test_review_show_gives_every_member_with_full_uids_as_csv_and_json(uid_fix):  # noqa: F811
    config, _, _, seq = uid_fix
    with read_catalog(config.catalog) as con:
        members = record(con, seq)["members"]
    shown = cli(config, "review", "show", str(seq), "--format", "csv")
    assert shown.exit_code == 0, shown.output
    rows = list(csv.DictReader(io.StringIO(shown.stdout)))
    assert [(r["old_sop_uid"], r["new_sop_uid"]) for r in rows] == [
        (m["old_sop_uid"] or "", m["new_sop_uid"] or "") for m in members
    ]
    as_json = json.loads(cli(config, "review", "show", str(seq), "--format", "json").stdout)
    assert [m["new_study_uid"] for m in as_json["members"]] == [m["new_study_uid"] for m in members]
    assert as_json["state"] == "pending_review"


def test_a_decision_shows_as_decided_in_changes_list_and_review_show(uid_fix):  # noqa: F811
    config, _, _, seq = uid_fix
    approved = cli(config, "review", "approve", str(seq), "--by", "night-admin")
    assert approved.exit_code == 0, approved.output
    listed = changes(config)
    decision = next(r for r in listed.values() if r["refers_to"] == seq)
    assert (listed[seq]["status"], listed[seq]["decided_in"]) == ("approved", decision["seq"])
    assert listed[seq]["decided_by"] == "night-admin"
    table = cli(config, "changes", "list")
    assert "refers to" in table.stdout and "date" in table.stdout
    shown = cli(config, "review", "show", str(seq))
    assert "(approved)" in shown.stdout and f"(record {decision['seq']})" in shown.stdout
    assert "ownership" not in shown.stdout
    shown_decision = cli(config, "review", "show", str(decision["seq"]))
    assert f"refers to record {seq}" in shown_decision.stdout


def test_an_applied_record_is_not_said_to_be_held_by_ownership(uid_fix):  # noqa: F811
    config, _, _, _ = uid_fix
    applied = next(r for r in changes(config).values() if r["kind"] == "NEW_OBJECTS")
    shown = cli(config, "review", "show", str(applied["seq"]))
    assert shown.exit_code == 0, shown.output
    assert "this record is applied; nothing waits for review" in shown.stdout
    assert "ownership" not in shown.stdout


def test_a_rejection_by_the_review_flows_function_shows_as_rejected(uid_fix):  # noqa: F811
    config, _, _, seq = uid_fix
    decide(str(config.file), seq, "reject", reason="wrong order", by="ana")
    listed = changes(config)
    assert (listed[seq]["status"], listed[seq]["reason"]) == ("rejected", "wrong order")
    queue = cli(config, "review", "list")
    assert "0 record(s)" in queue.stdout


def test_a_filled_pairing_template_is_what_approve_accepts(tmp_path, sample_drops):
    config, _, seq = ambiguous(tmp_path, sample_drops)
    template = cli(config, "review", "pairing-template", str(seq))
    assert template.exit_code == 0, template.output
    rows = list(csv.DictReader(io.StringIO(template.stdout)))
    assert rows and all(r["new_sop_uid"] == "" for r in rows)
    candidates = template.stderr.splitlines()[1:]
    assert len(candidates) == len(rows)
    filled = tmp_path / "pairing.csv"
    with filled.open("w", newline="") as stream:  # a person fills the right-hand column
        writer = csv.writer(stream)
        writer.writerow(["old_sop_uid", "new_sop_uid"])
        writer.writerows(zip([r["old_sop_uid"] for r in rows], candidates, strict=True))
    result = cli(config, "review", "approve", str(seq), "--pairing", str(filled))
    assert result.exit_code == 0, result.output
    assert changes(config)[seq]["status"] == "approved"


def report_rows(config, name: str) -> list[dict]:
    result = cli(config, "report", name, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_reports_carry_a_decision_of_the_review_flow_at_once(uid_fix):  # noqa: F811
    config, _, _, seq = uid_fix
    write_reports(config)  # the reports of the runs so far: the record waits for review
    assert seq in [r["seq"] for r in report_rows(config, "pending-review")]
    decide(str(config.file), seq, "approve", by="night-admin")  # what apply-review runs
    assert seq not in [r["seq"] for r in report_rows(config, "pending-review")]
    changes = {r["seq"]: r for r in report_rows(config, "changes")}
    decision = next(r for r in changes.values() if r["refers_to"] == seq)
    assert (decision["kind"], decision["status"]) == ("UID_FIX", "applied")
    assert changes[seq]["decision"] == "applied"
    assert "reports are up to date" in cli(config, "report", "refresh").stdout
