"""`spokesync reconcile SPOKE --dry-run` prints its plan as what WOULD happen: nothing was
applied, so no row may say `applied`."""

from __future__ import annotations

from typer.testing import CliRunner

from spokesync.catalog import open_catalog
from spokesync.catalog.nearline import spoke_summary
from spokesync.flows.cli.main import app


def test_dry_run_plan_rows_say_would_apply_and_a_real_run_says_applied(hub):
    runner = CliRunner()
    dry = runner.invoke(
        app, ["reconcile", "south", "--dry-run", "--config", str(hub.file)], terminal_width=200
    )
    assert dry.exit_code == 0, dry.output
    assert "(dry run: nothing changed)" in dry.output and "would apply" in dry.output
    assert " applied " not in dry.output and "│ applied" not in dry.output
    with open_catalog(hub.catalog) as con:
        assert spoke_summary(con) == []
    real = runner.invoke(app, ["reconcile", "south", "--config", str(hub.file)], terminal_width=200)
    assert real.exit_code == 0, real.output
    assert "applied" in real.output and "would apply" not in real.output
