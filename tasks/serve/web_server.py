"""The DICOMweb service's HTTP server: uvicorn in a thread beside the DIMSE SCP."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

import uvicorn

from spokesync.tasks.serve.web_app import build_app
from spokesync.tasks.serve.web_auth import users_of

if TYPE_CHECKING:
    from spokesync.tasks.config import Config

log = logging.getLogger("spokesync.serve")


class WebServer:
    """A running uvicorn server; `.shutdown()` lets open responses finish, then stops it."""

    def __init__(self, server: uvicorn.Server, thread: threading.Thread) -> None:
        self.server, self.thread = server, thread

    def shutdown(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def start_web(config: Config, timeout: float = 30) -> WebServer:
    """Listen on `[serve.dicomweb] bind`:`port`; OSError when it cannot."""
    web = config.serve.dicomweb
    app = build_app(config, users_of(web))
    settings = uvicorn.Config(app, host=web.bind, port=web.port, access_log=False,
                              log_level="warning", lifespan="off")  # fmt: skip
    server = uvicorn.Server(settings)
    thread = threading.Thread(target=server.run, name="dicomweb", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise OSError(f"the DICOMweb server did not start on {web.bind}:{web.port}")
        time.sleep(0.05)
    log.info("serve: DICOMweb listening on http://%s:%d/dicom-web", web.bind, web.port)
    return WebServer(server, thread)
