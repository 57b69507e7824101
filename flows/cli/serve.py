"""`spokesync serve`: the hub answers C-ECHO, C-FIND, C-GET and C-MOVE until it is stopped."""

from __future__ import annotations

import logging
import signal
import sys
import threading

import pydicom.config
import typer

from spokesync.catalog.errors import SpokesyncError
from spokesync.flows.cli.common import ConfigOpt, console, fail
from spokesync.flows.cli.signals import EXIT_CODES
from spokesync.tasks import config as cfg


def serve(config: ConfigOpt = None) -> None:
    """Run the hub's DICOM Query/Retrieve SCP ([serve] in spokesync.toml) until Ctrl-C or
    SIGTERM; every object leaves corrected, as `spokesync retrieve` sends it."""
    from spokesync.tasks.serve.scp import start_server

    try:
        loaded = cfg.load_config(config)
    except SpokesyncError as exc:
        fail(exc)
    log_to_stderr()
    stopped: list[int] = []
    wake = threading.Event()
    for signum in EXIT_CODES:
        signal.signal(signum, lambda number, _frame: (stopped.append(number), wake.set()))
    where = f"{loaded.serve.bind}:{loaded.serve.port}"
    try:
        server = start_server(loaded)
    except OSError as exc:
        fail(f"cannot listen on {where} ({exc}); choose a free [serve] port in {loaded.file}")
    web = start_dicomweb(loaded, server)
    console.print(f"serving {loaded.serve.ae_title} on {where}; stop with Ctrl-C or SIGTERM",
                  highlight=False)  # fmt: skip
    while not wake.wait(0.5):
        pass
    if web is not None:
        web.shutdown()
    server.shutdown()
    name = signal.Signals(stopped[0]).name
    console.print(f"spokesync serve: stopped ({name}); open associations were closed")
    raise typer.Exit(EXIT_CODES[signal.Signals(stopped[0])])


def start_dicomweb(loaded, dimse):
    """The DICOMweb server of `[serve.dicomweb]`, if configured; on failure stop the SCP too."""
    web = loaded.serve.dicomweb
    if web is None:
        return None
    from spokesync.tasks.serve.web_server import start_web

    try:
        started = start_web(loaded)
    except (SpokesyncError, OSError) as exc:
        dimse.shutdown()
        fail(f"{exc}; check [serve.dicomweb] in {loaded.file} (a free port, its credentials)")
    console.print(f"DICOMweb on http://{web.bind}:{web.port}/dicom-web", highlight=False)
    return started


def log_to_stderr() -> None:
    """Each association and request on stderr, one line each (counts and UIDs only).

    pydicom would warn about a malformed key quoting its value (a birth date, say); the keys
    are checked by tasks.serve.keys, which names the key and never its value.
    """
    pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    for name in ("spokesync.serve", "spokesync.retrieve"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False  # Prefect's console handler would print each line again
    logging.getLogger("pynetdicom").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").disabled = True  # its lines carry query values
