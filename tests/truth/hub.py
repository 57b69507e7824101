"""The hub as a user drives it: `spokesync manifest build`, reconcile, `retrieve --out`, `verify`.

Reconcile calls `tasks.reconcile.run.run_spoke`, the steps the reconcile-spoke flow runs, without
starting a Prefect server for every night.
"""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from spokesync.catalog import open_catalog
from spokesync.catalog.changes import list_changes
from spokesync.flows.cli.main import app
from spokesync.tasks.config import add_spoke, init_config, load_config, set_spoke
from spokesync.tasks.reconcile.run import run_spoke

RUNNER = CliRunner()


def cli(*args: str) -> str:
    """Run one spokesync command; its output, or an AssertionError carrying it."""
    result = RUNNER.invoke(app, [str(a) for a in args], terminal_width=250)
    assert result.exit_code == 0, f"spokesync {' '.join(map(str, args))}:\n{result.output}"
    return result.output


class Hub:
    """One hub in a folder, with one spoke that is either a folder of files or a PACS."""

    def __init__(self, folder: Path, spoke: str = "north") -> None:
        self.folder, self.spoke = folder, spoke
        self.file = init_config(folder / "hub")
        self.nights = self.retrievals = 0

    @property
    def config(self):
        return load_config(self.file)

    def build(self, source: Path) -> Path:
        """`spokesync manifest build` of the spoke's files into a new drop; the drop's path."""
        self.nights += 1
        drop = self.folder / f"drop-{self.nights:03d}"
        cli("manifest", "build", source, "--spoke", self.spoke, "--out", drop)
        add_spoke(self.file, self.spoke, drop)
        return drop

    def use_pacs(self, body: dict) -> None:
        set_spoke(self.file, self.spoke, body)

    def reconcile(self) -> dict:
        """Reconcile the spoke's current drop (or PACS) once; the run's summary."""
        return run_spoke(self.config, self.spoke, allow_mass_delete=True)

    def night(self, source: Path) -> dict:
        """What a night does for a file spoke: build its drop and reconcile it."""
        self.build(source)
        return self.reconcile()

    def records(self, run_id: str | None = None) -> list[dict]:
        """cc records (of one run, or all), attributes decoded."""
        with open_catalog(self.config.catalog) as con:
            found = list_changes(con)
        return [r for r in found if run_id is None or r["run_id"] == run_id]

    def query(self, sql: str, *params) -> list[tuple]:
        with open_catalog(self.config.catalog) as con:
            return con.execute(sql, list(params)).fetchall()

    def retrieve(self, study: str, out: Path) -> dict[str, Path]:
        """`spokesync retrieve STUDY --out DIR`; {SOP UID: file} of what came out."""
        cli("retrieve", study, "--out", out, "--config", self.file)
        return {f.stem: f for f in out.rglob("*.dcm")}

    def verify(self) -> str:
        return cli("verify", "--config", self.file)

    def approve(self, seq: int) -> str:
        return cli("review", "approve", seq, "--by", "oracle", "--reason", "test",
                   "--config", self.file)  # fmt: skip
