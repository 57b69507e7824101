"""The errors spokesync raises on purpose: each one says what is wrong and how to fix it."""

from __future__ import annotations


class SpokesyncError(Exception):
    """Base of every error spokesync raises on purpose."""


class ManifestInvalid(SpokesyncError):
    """A spoke drop breaks the manifest contract (DESIGN §2); nothing was changed."""

    def __init__(
        self,
        file: str,
        problem: str,
        *,
        row: int | None = None,
        column: str | None = None,
        fix: str = "",
    ) -> None:
        self.file, self.row, self.column, self.problem, self.fix = file, row, column, problem, fix
        where = file
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column {column!r}"
        message = f"{where}: {problem}"
        if fix:
            message += f". Fix: {fix}"
        super().__init__(message + ". Nothing was changed.")


class CatalogLocked(SpokesyncError):
    """Another process holds the catalog's writer lock."""

    def __init__(self, path: str, holder_pid: int | None) -> None:
        self.path, self.holder_pid = path, holder_pid
        holder = f"process {holder_pid}" if holder_pid else "another process"
        super().__init__(
            f"the catalog {path} is locked by {holder}; wait for it to finish, "
            "or run again with --wait to queue behind it"
        )


class CatalogBusy(SpokesyncError):
    """The catalog file cannot be opened for reading now (a commit holds it, or it does not
    exist yet); read commands never wait on the writer lock."""


class SpokeUnavailable(SpokesyncError):
    """A spoke could not be reached or read; retrying later may succeed (unless `retryable`
    is False: a refused password or a wrong URL stays wrong however often it is retried)."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        self.retryable = retryable
        super().__init__(message)


class NearlineCorrupt(SpokesyncError):
    """Stored bytes do not match what the catalog recorded for them."""


class ObjectRefused(SpokesyncError):
    """An object a spoke sent cannot be archived (unreadable, or its fingerprint does not match)."""


class MassDeletionBlocked(SpokesyncError):
    """A run would delete more than the configured share of the objects in scope."""

    def __init__(self, deleting: int, in_scope: int, limit: str) -> None:
        self.deleting, self.in_scope = deleting, in_scope
        super().__init__(
            f"this run would delete {deleting} of {in_scope} instances in scope, over the limit "
            f"({limit}); nothing was changed. If the spoke really deleted them, run again with "
            "--allow-mass-delete"
        )


class CatalogChanged(SpokesyncError):
    """Another run committed between this run's plan and its commit; nothing was changed."""

    def __init__(self, spoke: str) -> None:
        super().__init__(
            f"another run changed the catalog while spoke {spoke} was being reconciled; nothing "
            "was changed by this run. Run it again (it will plan against the new state)"
        )


class ReviewRefused(SpokesyncError):
    """A review decision cannot be taken as asked; the message says why and what to do."""


class ConfigInvalid(SpokesyncError):
    """The configuration file is missing, unreadable or names something that does not exist."""


class NearlineUnsafe(SpokesyncError):
    """A nearline volume or the catalog beside it is not what the hub expects (a volume not
    mounted or of another hub, a catalog mistyped or older than its nearline); nothing was
    written."""


class NearlineUnwritable(SpokesyncError):
    """No configured nearline volume can take a TAR (full or read-only); nothing was published."""


class CatalogDamaged(SpokesyncError):
    """The catalog file cannot be opened (truncated, overwritten, not a DuckDB file)."""
