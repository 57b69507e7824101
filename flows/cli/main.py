"""The `spokesync` command line: the same flows and tasks a deployment runs, for a person."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Annotated

import typer

from spokesync.catalog.errors import SpokesyncError
from spokesync.flows import console as views
from spokesync.flows.cli.app import Cli, add_global_options
from spokesync.flows.cli.catalog import catalog_app, mark_new_hub
from spokesync.flows.cli.changes import changes_app
from spokesync.flows.cli.checks import checked_config
from spokesync.flows.cli.common import ConfigOpt, WaitOpt, console, fail
from spokesync.flows.cli.reports import report_app
from spokesync.flows.cli.retrieve import retrieve
from spokesync.flows.cli.review import review_app
from spokesync.flows.cli.serve import serve
from spokesync.flows.cli.spokes import manifest_app, spoke_app
from spokesync.flows.cli.verify import verify
from spokesync.tasks import config as cfg

app = Cli(
    help="Keep a regional image data center in step with its PACS spokes. A cc record (change "
    "context record) is one change the hub detected at a spoke: new objects, corrected "
    "attributes, a split, merge, segment, UID fix or deletion.",
    epilog="Example: spokesync reconcile north --dry-run --config /srv/hub/spokesync.toml",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
add_global_options(app)
app.add_typer(changes_app, name="changes")
app.add_typer(spoke_app, name="spoke")
app.add_typer(manifest_app, name="manifest")
app.add_typer(review_app, name="review")
app.add_typer(report_app, name="report")
app.add_typer(catalog_app, name="catalog")


@app.command(epilog="Example: spokesync init --data-dir /srv/hub")
def init(
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="folder for catalog, nearline and reports")
    ],
) -> None:
    """Write DATA_DIR/spokesync.toml with the defaults (an existing file is kept)."""
    file = cfg.init_config(data_dir)
    try:
        hub = mark_new_hub(file)
    except SpokesyncError as exc:
        fail(exc)
    console.print(f"hub {hub}: its nearline volumes carry its marker")
    console.print(
        f"configuration: {file}\nuse it with --config {file} or export {cfg.CONFIG_ENV}={file}"
    )


@app.command(epilog="Example: spokesync reconcile north --dry-run")
def reconcile(
    spoke: Annotated[str, typer.Argument(help="the spoke id, as `spokesync spoke list` shows")],
    drop: Annotated[
        Path | None, typer.Option("--drop", help="reconcile this drop folder, not the spoke's")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="only plan: print the plan, change nothing")
    ] = False,
    config: ConfigOpt = None,
    wait: WaitOpt = False,
    allow_mass_delete: Annotated[
        bool, typer.Option("--allow-mass-delete", help="confirm a run that deletes many objects")
    ] = False,
) -> None:
    """Reconcile one spoke now (the reconcile-spoke flow); --dry-run only shows the plan."""
    # a dry run plans under the writer lock too, so it is checked like a run
    file = checked_config(config, spoke=spoke, drop=drop, wait=wait)
    from spokesync.flows.reconcile import reconcile_spoke  # Prefect: once the command can run

    state = reconcile_spoke(
        spoke,
        drop=str(drop) if drop else None,
        dry_run=dry_run,
        config_file=str(file),
        wait=wait,
        allow_mass_delete=allow_mass_delete,
        return_state=True,
    )
    result = state.result(raise_on_failure=False)
    if isinstance(result, Exception):
        fail(result)
    views.print_plan(console, Path(result["plan"]), dry_run=dry_run)
    views.print_runs(console, {spoke: result})


@app.command(epilog="Example: spokesync nightly --config /srv/hub/spokesync.toml")
def nightly(config: ConfigOpt = None, wait: WaitOpt = False) -> None:
    """Reconcile every configured spoke (the nightly-reconcile flow)."""
    if not views.run_nightly(console, checked_config(config, wait=wait), wait=wait):
        raise typer.Exit(1)


app.command(
    "retrieve", epilog="Example: spokesync retrieve 1.2.840.113619.2.1 --out /srv/out/study"
)(retrieve)
app.command("serve", epilog="Example: spokesync serve   (see [serve] in spokesync.toml)")(serve)


app.command("verify", epilog="Example: spokesync verify --spoke north --since 2026-11-01")(verify)


@app.command(epilog="Example: spokesync demo --data-dir var/demo")
def demo(
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="where the demo hub and sample spokes go")
    ] = Path("var/demo"),
    orthanc: Annotated[
        str | None,
        typer.Option("--orthanc", help="DICOMweb URL of a running PACS: adds spoke east from it"),
    ] = None,
) -> None:
    """Build the sample spokes north and south from real DICOM objects and run the nightly flow."""
    if importlib.util.find_spec("simulator") is None:
        fail(
            "spokesync demo builds its sample spokes with the simulator, which only a checkout "
            "has (the wheel does not ship it): run `make demo` in a clone of the repository"
        )
    from spokesync.flows.demo import run_demo

    os.environ.setdefault(cfg.CONFIG_ENV, str((data_dir / cfg.CONFIG_NAME).absolute()))
    try:
        ok = run_demo(console, data_dir, orthanc)
    except SpokesyncError as exc:
        fail(exc)
    if not ok:
        raise typer.Exit(1)


@app.command(epilog="Example: spokesync schedule && prefect deploy --all")
def schedule(
    config: ConfigOpt = None,
    prefect_yaml: Annotated[
        Path, typer.Option("--prefect-yaml", help="the deployments file to update")
    ] = Path("prefect.yaml"),
) -> None:
    """Copy the nightly cron and timezone from spokesync.toml into prefect.yaml."""
    from spokesync.flows.schedule import apply_schedule, schedule_message

    try:
        loaded = cfg.load_config(config)
        changed = apply_schedule(prefect_yaml, loaded.schedule)
    except (SpokesyncError, ValueError, OSError) as exc:
        fail(exc)
    console.print(schedule_message(prefect_yaml, loaded.schedule, changed), highlight=False)
