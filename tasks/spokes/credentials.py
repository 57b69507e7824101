"""A spoke's credentials: from environment variables or a Prefect Secret block, never a file.

The configuration names where the secrets are (`username_env`, `password_env`, or
`secret_block`); the values are read when a source opens and are never logged or echoed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from spokesync.catalog.errors import ConfigInvalid


def spoke_credentials(
    spoke: str,
    *,
    username_env: str | None = None,
    password_env: str | None = None,
    secret_block: str | None = None,
    environ: Mapping[str, str] = os.environ,
) -> tuple[str, str] | None:
    """(username, password) for HTTP basic authentication, or None when none is configured."""
    if secret_block:
        return _from_block(spoke, secret_block)
    if not (username_env or password_env):
        return None
    if not (username_env and password_env):
        raise ConfigInvalid(
            f"spoke {spoke!r}: set both username_env and password_env (or a secret_block)"
        )
    missing = [name for name in (username_env, password_env) if not environ.get(name)]
    if missing:
        raise ConfigInvalid(
            f"spoke {spoke!r}: the environment variable(s) {', '.join(missing)} named in the "
            "configuration are not set; export them in the worker's environment"
        )
    return environ[username_env], environ[password_env]


def _from_block(spoke: str, name: str) -> tuple[str, str]:
    """A Prefect Secret block holding {"username": ..., "password": ...} or "user:password"."""
    from prefect.blocks.system import Secret

    try:
        value = Secret.load(name, _sync=True).get()
    except (ValueError, RuntimeError) as exc:
        raise ConfigInvalid(
            f"spoke {spoke!r}: cannot load the Prefect Secret block {name!r} "
            f"({type(exc).__name__}); create it with "
            "Secret(value={'username': ..., 'password': ...}).save(name)"
        ) from None
    return parse_secret(spoke, name, value)


def parse_secret(spoke: str, name: str, value: object) -> tuple[str, str]:
    """Accept a mapping with username and password, or a "user:password" string."""
    if isinstance(value, Mapping) and value.get("username") and value.get("password"):
        return str(value["username"]), str(value["password"])
    if isinstance(value, str) and ":" in value:
        user, _, password = value.partition(":")
        if user and password:
            return user, password
    raise ConfigInvalid(
        f"spoke {spoke!r}: the Prefect Secret block {name!r} must hold "
        '{"username": ..., "password": ...} or "user:password"'
    )
