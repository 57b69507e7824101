"""`spokesync spoke …` and `spokesync manifest …`: register spokes, build and pull drops."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from spokesync.catalog.errors import ConfigInvalid, SpokesyncError
from spokesync.flows import console as views
from spokesync.flows.cli.choices import DimseRetrieve
from spokesync.flows.cli.common import ConfigOpt, WaitOpt, console, fail
from spokesync.flows.console_progress import phased
from spokesync.tasks import config as cfg

spoke_app = typer.Typer(help="Register and list spokes.", no_args_is_help=True)
manifest_app = typer.Typer(help="Build and inspect spoke drops.", no_args_is_help=True)


@spoke_app.command("add", epilog="Example: spokesync spoke add north --drop /srv/drops/north")
def spoke_add(
    spoke_id: Annotated[str, typer.Argument(help="1-32 of a-z, 0-9, _ and -")],
    drop: Annotated[Path | None, typer.Option("--drop", help="a drop folder")] = None,
    dicomweb: Annotated[str | None, typer.Option("--dicomweb", help="DICOMweb base URL")] = None,
    dimse: Annotated[str | None, typer.Option("--dimse", help="the PACS as AET@HOST:PORT")] = None,
    username_env: Annotated[str | None, typer.Option(help="env variable: user")] = None,
    password_env: Annotated[str | None, typer.Option(help="env variable: password")] = None,
    secret_block: Annotated[str | None, typer.Option(help="Prefect Secret block")] = None,
    calling_aet: Annotated[str, typer.Option(help="the hub's AE title")] = "SPOKESYNC",
    retrieve: Annotated[
        DimseRetrieve, typer.Option(help="DIMSE: C-GET, or C-MOVE to the hub's own SCP")
    ] = DimseRetrieve.get,
    storage_port: Annotated[int | None, typer.Option(help="C-MOVE: hub's SCP port")] = None,
    since_attribute: Annotated[
        str | None, typer.Option(help="date attribute that narrows a night's study query")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Register SPOKE_ID: a drop folder, a DICOMweb PACS, or a DIMSE PACS (exactly one)."""
    try:
        body = spoke_body(drop, dicomweb, dimse)
        if body["source"] == "dicomweb":
            body |= {"username_env": username_env, "password_env": password_env,
                     "secret_block": secret_block}  # fmt: skip
        elif body["source"] == "dimse":
            body |= {"calling_aet": calling_aet, "retrieve": retrieve.value,
                     "storage_port": storage_port}  # fmt: skip
        if body["source"] != "drop":
            body["since_attribute"] = since_attribute
        cfg.set_spoke(cfg.config_path(config), spoke_id, body)
    except (SpokesyncError, ValueError) as exc:
        fail(exc)
    console.print(
        f"spoke {spoke_id}: {views.spoke_source(cfg.load_config(config).spokes[spoke_id])}"
    )


@spoke_app.command("list", epilog="Example: spokesync spoke list")
def spoke_list(config: ConfigOpt = None) -> None:
    """The configured spokes and their sources."""
    try:
        views.print_spokes(console, cfg.load_config(config))
    except SpokesyncError as exc:
        fail(exc)


@manifest_app.command(
    "build",
    epilog="Example: spokesync manifest build /mnt/export/north --spoke north "
    "--out /srv/drops/north",
)
def manifest_build(
    dicom_dir: Annotated[Path, typer.Argument(help="a folder tree of DICOM files")],
    spoke: Annotated[str, typer.Option("--spoke", help="the spoke id the drop is for")],
    out: Annotated[Path, typer.Option("--out", help="the drop folder to write")],
) -> None:
    """Build a spoke drop from a folder of DICOM files (unreadable ones go to rejected.csv)."""
    try:
        result = views.build_with_progress(console, dicom_dir, spoke, out)
    except SpokesyncError as exc:
        fail(exc)
    views.print_build(console, result, out)


@manifest_app.command(
    "pull", epilog="Example: spokesync manifest pull east --out /srv/inspect/east"
)
def manifest_pull(
    spoke: Annotated[str, typer.Argument(help="a configured PACS spoke")],
    out: Annotated[Path, typer.Option("--out", help="an empty or new folder")],
    all_objects: Annotated[
        bool, typer.Option("--all-objects", help="fetch every object, not only new ones")
    ] = False,
    config: ConfigOpt = None,
    wait: WaitOpt = False,
) -> None:
    """Write what a PACS spoke lists as a drop: its manifest and the objects the hub lacks."""
    from spokesync.tasks.spokes import pull
    from spokesync.tasks.spokes.hub import pull_spoke

    units = {pull.LISTING: "studies", pull.FETCHING: "objects"}
    try:
        loaded, folder = cfg.load_config(config), empty_folder(out)
        with phased(console, units) as progress:
            result = pull_spoke(loaded, spoke, folder, fetch_all=all_objects, wait=wait,
                                progress=progress)  # fmt: skip
    except SpokesyncError as exc:
        fail(exc)
    views.print_pull(console, loaded.spokes[spoke], result)


def spoke_body(drop: Path | None, dicomweb: str | None, dimse: str | None) -> dict:
    """The source part of a spoke's configuration; exactly one kind of source is given."""
    from spokesync.tasks.retrieve.dimse_send import parse_node

    given = [name for name, value in (("--drop", drop), ("--dicomweb", dicomweb),
                                      ("--dimse", dimse)) if value]  # fmt: skip
    if len(given) != 1:
        raise ConfigInvalid(
            "give exactly one source: --drop DIR, --dicomweb URL or --dimse AET@HOST:PORT"
            + (f" (got {', '.join(given)})" if given else "")
        )
    if drop:
        return {"source": "drop", "drop": str(Path(drop).absolute())}
    if dicomweb:
        return {"source": "dicomweb", "url": dicomweb}
    node = parse_node(dimse)
    return {"source": "dimse", "host": node.host, "port": node.port, "called_aet": node.aet}


def empty_folder(out: Path) -> Path:
    """A pull writes a fresh drop: refuse a folder that already holds something."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ConfigInvalid(f"{out} is not empty; pull into a new or empty folder")
    return out
