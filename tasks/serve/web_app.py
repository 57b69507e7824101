"""The hub's read-only DICOMweb service (Starlette): QIDO-RS and WADO-RS under /dicom-web.

Searches match as C-FIND does (tasks.serve.web_query); retrieves send what `spokesync
retrieve` writes (tasks.serve.web_wado). Every request must authenticate (tasks.serve.web_auth).
Logs name the user, the path (UIDs only), parameter names and counts, never a value.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from spokesync.catalog.errors import SpokesyncError
from spokesync.tasks.serve.keys import MalformedKey
from spokesync.tasks.serve.lookup import TooManyMatches, find_matches
from spokesync.tasks.serve.web_auth import Guard, Users
from spokesync.tasks.serve.web_query import answers_json, search
from spokesync.tasks.serve.web_wado import (
    accepted_syntaxes,
    metadata,
    multipart,
    new_boundary,
    not_acceptable,
    plans_for,
)

if TYPE_CHECKING:
    from spokesync.tasks.config import Config

log = logging.getLogger("spokesync.serve")
DICOM_JSON = "application/dicom+json"
STUDY, SERIES, SOP = "{study}", "{series}", "{sop}"


def _path_keys(request: Request) -> dict[str, str]:
    names = {"study": "StudyInstanceUID", "series": "SeriesInstanceUID", "sop": "SOPInstanceUID"}
    return {names[k]: v for k, v in request.path_params.items()}


def _refused(request: Request, exc: Exception) -> Response:
    """400 for a malformed parameter, 413 for too many matches, 503 when the catalog is busy."""
    status = 413 if isinstance(exc, TooManyMatches) else 400
    if not isinstance(exc, MalformedKey):
        status = 503
    log.warning("serve: %s %s from %s refused (%d): %s", request.method, request.url.path,
                request.scope.get("spokesync.user"), status, exc)  # fmt: skip
    return PlainTextResponse(str(exc) + "\n", status_code=status)


def qido(level: str):
    """A QIDO-RS endpoint at `level` (STUDY, SERIES or IMAGE)."""

    def endpoint(request: Request) -> Response:
        config = request.app.state.config
        try:
            found = search(level, _path_keys(request), list(request.query_params.multi_items()))
            rows = find_matches(config, found.query)
        except SpokesyncError as exc:
            return _refused(request, exc)
        body = answers_json(found, rows, config.serve.ae_title)
        log.info("serve: QIDO-RS %s %s from %s: %d matches, %d answered; parameters %s",
                 level, request.url.path, request.scope.get("spokesync.user"), len(rows),
                 len(body), ", ".join(found.names) or "none")  # fmt: skip
        return JSONResponse(body, media_type=DICOM_JSON)

    return endpoint


def wado(kind: str):
    """A WADO-RS endpoint: `objects` (multipart/related) or `metadata` (dicom+json)."""

    def endpoint(request: Request) -> Response:
        uids = list(request.path_params.values())
        what = f"WADO-RS {kind} {request.url.path} for {request.scope.get('spokesync.user')}"
        try:
            plans = plans_for(request.app.state.config, uids)
        except SpokesyncError as exc:
            return _refused(request, exc)
        if not plans:
            log.info("serve: %s: not found", what)
            return PlainTextResponse(f"no study, series or instance {uids[-1]}\n", 404)
        log.info("serve: %s: %d objects of studies %s", what,
                 sum(len(p.instances) for p in plans),
                 [p.resolution.study_uid for p in plans])  # fmt: skip
        if kind == "metadata":
            return StreamingResponse(metadata(plans, what), media_type=DICOM_JSON)
        asked = accepted_syntaxes(request.headers.get("accept", ""))
        if refusal := not_acceptable(plans, asked):
            log.info("serve: %s: not acceptable (406): %s", what, refusal)
            return PlainTextResponse(refusal + "\n", 406)
        boundary = new_boundary()
        kind_header = f'multipart/related; type="application/dicom"; boundary={boundary}'
        return StreamingResponse(multipart(plans, boundary, what, asked), headers={
            "Content-Type": kind_header})  # fmt: skip

    return endpoint


def routes() -> list[Route]:
    base = "/dicom-web"
    study, series = f"{base}/studies/{STUDY}", f"{base}/studies/{STUDY}/series/{SERIES}"
    return [
        Route(f"{base}/studies", qido("STUDY")),
        Route(f"{base}/series", qido("SERIES")),
        Route(f"{base}/instances", qido("IMAGE")),
        Route(f"{study}/series", qido("SERIES")),
        Route(f"{study}/instances", qido("IMAGE")),
        Route(f"{series}/instances", qido("IMAGE")),
        Route(study, wado("objects")),
        Route(series, wado("objects")),
        Route(f"{series}/instances/{SOP}", wado("objects")),
        Route(f"{study}/metadata", wado("metadata")),
        Route(f"{series}/metadata", wado("metadata")),
        Route(f"{series}/instances/{SOP}/metadata", wado("metadata")),
    ]


def build_app(config: Config, users: Users) -> Guard:
    """The ASGI application: the routes behind the authentication guard."""
    app = Starlette(routes=routes())
    app.state.config = config
    return Guard(app, users)
