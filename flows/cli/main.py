"""The `spokesync` command line: the same flows and tasks a deployment runs, for a person."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from spokesync.catalog.errors import SpokesyncError
from spokesync.flows import console as views
from spokesync.tasks import config as cfg

app = typer.Typer(
    help="Keep a regional image data center in step with its PACS spokes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
spoke_app = typer.Typer(help="Register and list spokes.", no_args_is_help=True)
manifest_app = typer.Typer(help="Build and inspect spoke drops.", no_args_is_help=True)
changes_app = typer.Typer(help="The change log: list cc records.", no_args_is_help=True)
app.add_typer(changes_app, name="changes")
app.add_typer(spoke_app, name="spoke")
app.add_typer(manifest_app, name="manifest")
console = Console(width=None if sys.stdout.isatty() else 150)
err_console = Console(stderr=True, soft_wrap=True)
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", help="spokesync.toml to use (default: $SPOKESYNC_CONFIG or ./spokesync.toml)"
    ),
]
WaitOpt = Annotated[
    bool,
    typer.Option(
        "--wait", help="queue behind another catalog writer instead of failing with CatalogLocked"
    ),
]


def _fail(exc: Exception) -> None:
    console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _checked_config(config: Path | None, spoke: str | None = None) -> Path:
    """Read the configuration before Prefect starts (a wrong file stops here, in one line), and
    from then on stop cleanly on Ctrl-C or SIGTERM."""
    from spokesync.flows.cli.signals import stop_cleanly_on_signals

    file = cfg.config_path(config).absolute()
    try:
        loaded = cfg.load_config(file)
        if spoke is not None:
            loaded.spoke(spoke)
    except SpokesyncError as exc:
        _fail(exc)
    stop_cleanly_on_signals()
    return file


@app.command()
def init(
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="folder for catalog, nearline and reports")
    ],
) -> None:
    """Write DATA_DIR/spokesync.toml with the defaults (an existing file is kept)."""
    file = cfg.init_config(data_dir)
    try:
        hub = cli_catalog.mark_new_hub(file)
    except SpokesyncError as exc:
        _fail(exc)
    console.print(f"hub {hub}: its nearline volumes carry its marker")
    console.print(
        f"configuration: {file}\nuse it with --config {file} or export {cfg.CONFIG_ENV}={file}"
    )


@app.command()
def reconcile(
    spoke: str,
    drop: Annotated[Path | None, typer.Option("--drop")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run")] = False,
    config: ConfigOpt = None,
    wait: WaitOpt = False,
    allow_mass_delete: Annotated[
        bool, typer.Option("--allow-mass-delete", help="confirm a run that deletes many objects")
    ] = False,
) -> None:
    """Reconcile one spoke now (the reconcile-spoke flow); --dry-run only shows the plan."""
    from spokesync.flows.reconcile import reconcile_spoke

    file = _checked_config(config, spoke)
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
        _fail(result)
    views.print_plan(console, Path(result["plan"]))
    views.print_runs(console, {spoke: result})


@app.command()
def nightly(config: ConfigOpt = None, wait: WaitOpt = False) -> None:
    """Reconcile every configured spoke (the nightly-reconcile flow)."""
    if not views.run_nightly(console, _checked_config(config), wait=wait):
        raise typer.Exit(1)


@app.command()
def verify(config: ConfigOpt = None, wait: WaitOpt = False) -> None:
    """Re-hash nearline against the catalog: missing, corrupt and orphan TARs (exit 1 if any;
    files the hub moved aside are listed, not counted)."""
    from spokesync.tasks.nearline.verify import verify_nearline

    try:
        findings, checked = verify_nearline(cfg.load_config(config), wait=wait)
    except SpokesyncError as exc:
        _fail(exc)
    views.print_findings(console, findings, checked)
    if any(f.kind != "set_aside" for f in findings):  # files moved aside are kept, not problems
        raise typer.Exit(1)


@app.command()
def demo(
    data_dir: Annotated[Path, typer.Option("--data-dir")] = Path("var/demo"),
    orthanc: Annotated[
        str | None,
        typer.Option("--orthanc", help="DICOMweb URL of a running PACS: adds spoke east from it"),
    ] = None,
) -> None:
    """Build the sample spokes north and south from real DICOM objects and run the nightly flow."""
    from spokesync.flows.demo import run_demo

    os.environ.setdefault(cfg.CONFIG_ENV, str((data_dir / cfg.CONFIG_NAME).absolute()))
    try:
        ok = run_demo(console, data_dir, orthanc)
    except SpokesyncError as exc:
        _fail(exc)
    if not ok:
        raise typer.Exit(1)


@app.command()
def schedule(
    config: ConfigOpt = None,
    prefect_yaml: Annotated[Path, typer.Option("--prefect-yaml")] = Path("prefect.yaml"),
) -> None:
    """Copy the nightly cron and timezone from spokesync.toml into prefect.yaml."""
    from spokesync.flows.schedule import apply_schedule

    try:
        loaded = cfg.load_config(config)
        changed = apply_schedule(prefect_yaml, loaded.schedule)
    except (SpokesyncError, ValueError, OSError) as exc:
        _fail(exc)
    state = "updated" if changed else "already up to date"
    console.print(
        f"{prefect_yaml} {state}: cron {loaded.schedule.cron!r}, "
        f"timezone {loaded.schedule.timezone}"
    )


@changes_app.command("list")
def changes_list(
    spoke: Annotated[str | None, typer.Option("--spoke")] = None,
    since: Annotated[str | None, typer.Option("--since", help="ISO date or time")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    study: Annotated[str | None, typer.Option("--study", help="a current or old UID")] = None,
    config: ConfigOpt = None,
    wait: WaitOpt = False,
) -> None:
    """The change log: every cc record with its kind, status and studies before → after."""
    from spokesync.catalog import open_catalog
    from spokesync.catalog.changes import list_changes
    from spokesync.catalog.review import resolve_study

    try:
        moment = views.parse_since(since)
        loaded = cfg.load_config(config)
        with open_catalog(loaded.catalog, wait=wait) as con:
            records = list_changes(con, spoke=spoke, since=moment)
            current, resolved = resolve_study(con, study) if study else ([], False)
    except (SpokesyncError, ValueError) as exc:
        _fail(exc)
    if study:
        records = views.touching_study(err_console, records, study, current, resolved)
    if fmt == "json":
        views.print_json(records)
    else:
        views.print_changes(console, records)


@changes_app.command("revert")
def changes_revert(
    seq: int,
    by: Annotated[str | None, typer.Option("--by", help="operator (default: OS user)")] = None,
    reason: Annotated[str, typer.Option("--reason")] = "",
    config: ConfigOpt = None,
    wait: WaitOpt = False,
) -> None:
    """Undo record SEQ with a compensating record (refused if a later change depends on it)."""
    import getpass

    from spokesync.catalog import open_catalog
    from spokesync.catalog.revert import revert

    try:
        with open_catalog(cfg.load_config(config).catalog, wait=wait) as con:
            compensating = revert(con, seq, by=by or getpass.getuser(), reason=reason)
    except SpokesyncError as exc:
        _fail(exc)
    console.print(f"record {seq} reverted by record {compensating}")


@changes_app.command("export-iocm")
def changes_export_iocm(
    out: Annotated[Path, typer.Option("--out")],
    since: Annotated[str | None, typer.Option("--since", help="ISO date or time")] = None,
    config: ConfigOpt = None,
    wait: WaitOpt = False,
) -> None:
    """One IHE IOCM rejection note (KOS) per study with deletions, as the spoke knew it."""
    from spokesync.catalog import open_catalog
    from spokesync.catalog.iocm import deleted_instances
    from spokesync.tasks.reports.iocm import export_notes

    try:
        moment = views.parse_since(since)
        with open_catalog(cfg.load_config(config).catalog, wait=wait) as con:
            rows = deleted_instances(con, moment)
    except (SpokesyncError, ValueError) as exc:
        _fail(exc)
    files = export_notes(rows, out)
    console.print(f"{len(files)} rejection note(s) for {len(rows)} instance(s) written to {out}")


from spokesync.flows.cli import catalog as cli_catalog  # noqa: E402
from spokesync.flows.cli import reports as cli_reports  # noqa: E402
from spokesync.flows.cli import retrieve as cli_retrieve  # noqa: E402
from spokesync.flows.cli import review as cli_review  # noqa: E402
from spokesync.flows.cli import spokes as cli_spokes  # noqa: E402

cli_spokes.register(spoke_app, manifest_app, console, _fail)
cli_review.register(app, console, _fail)
cli_reports.register(app)
cli_retrieve.register(app)
cli_catalog.register(app, console, _fail)
