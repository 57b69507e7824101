"""Who may call the DICOMweb service: HTTP basic (user and password) or a bearer token, read
from the environment or a Prefect Secret block when the server starts (as for spokes)."""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.responses import PlainTextResponse

from spokesync.catalog.errors import ConfigInvalid
from spokesync.tasks.serve.settings import DicomWeb
from spokesync.tasks.spokes.credentials import spoke_credentials

log = logging.getLogger("spokesync.serve")
WHERE = "serve.dicomweb"


@dataclass(frozen=True)
class Users:
    basic: tuple[str, str] | None
    token: str | None

    def who(self, authorization: str) -> str | None:
        """The caller an Authorization header proves, or None."""
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and self.token:
            return "bearer token" if hmac.compare_digest(value.strip(), self.token) else None
        if scheme.lower() != "basic" or not self.basic:
            return None
        try:
            user, _, password = base64.b64decode(value.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        same = hmac.compare_digest(user, self.basic[0]) & hmac.compare_digest(
            password, self.basic[1]
        )
        return f"user {user}" if same else None


def users_of(web: DicomWeb, environ: Mapping[str, str] = os.environ) -> Users:
    """The credentials `[serve.dicomweb]` names; refuse a service nobody could call."""
    basic = spoke_credentials(WHERE, username_env=web.username_env,
                              password_env=web.password_env, secret_block=web.secret_block,
                              environ=environ)  # fmt: skip
    token = None
    if web.token_env:
        token = environ.get(web.token_env)
        if not token:
            raise ConfigInvalid(
                f"{WHERE} token_env: the environment variable {web.token_env} is not set; "
                "export it in the server's environment"
            )
    if not (basic or token):
        raise ConfigInvalid(
            f"{WHERE}: no credentials; set username_env and password_env (or secret_block) "
            "for HTTP basic, or token_env for a bearer token"
        )
    return Users(basic, token)


class Guard:
    """ASGI middleware: 401 for a request without valid credentials (nothing else runs)."""

    def __init__(self, app, users: Users) -> None:
        self.app, self.users = app, users

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        who = self.users.who(headers.get(b"authorization", b"").decode("latin-1"))
        if who is None:
            log.warning("serve: DICOMweb %s %s refused (401): no valid credentials",
                        scope["method"], scope["path"])  # fmt: skip
            challenge = 'Basic realm="spokesync", Bearer realm="spokesync"'
            response = PlainTextResponse("authentication required\n", 401,
                                         headers={"WWW-Authenticate": challenge})  # fmt: skip
            await response(scope, receive, send)
            return
        scope["spokesync.user"] = who
        await self.app(scope, receive, send)
