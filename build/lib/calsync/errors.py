"""The one error tree of calsync.

Every error calsync raises on purpose is a ``CalsyncError``. Callers catch the
narrowest class they can act on; the CLI and the API map each class to a
message or a status code, so nothing user-facing ever shows a traceback.

    CalsyncError
    ├── UserError                 the user can fix it (bad input, bad config)
    │   ├── ConfigError           names the file, the key and, when known, the line
    │   └── ValidationError       API input; carries Cronofy-shaped field errors
    ├── NotFound                  no such thing, or it belongs to another account
    ├── Conflict                  the current state forbids the change
    │   └── LeaseLost             this replica no longer owns a calendar's sync (fenced)
    ├── AuthError                 unknown, expired or revoked credentials
    ├── StoreError                the store is unreachable or not migrated
    └── ProviderError             the remote calendar service failed
        ├── RateLimited           back off for ``retry_after`` seconds
        ├── CredentialsInvalid    the provider refuses our credentials: reconnect
        ├── CursorExpired         the sync cursor is no longer valid: full reconcile
        ├── PreconditionFailed    the remote changed under us (etag mismatch)
        └── TransientProviderError  a 5xx or network fault: retry later
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class CalsyncError(Exception):
    """Root of every error calsync raises deliberately."""

    #: What the user should do about it; the CLI prints this after the message.
    hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint


class UserError(CalsyncError):
    """Something the user can fix: bad input, a bad file, a missing secret."""


class ConfigError(UserError):
    """The configuration file is invalid. Always names the file and the key."""

    hint = "Fix the file and run `calsync config check` to validate it."

    def __init__(self, path: str, key: str, problem: str, *, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {key}: {problem}")
        self.path = path
        self.key = key
        self.problem = problem
        self.line = line


class ValidationError(UserError):
    """API input failed validation; ``fields`` is Cronofy's error shape.

    ``fields`` maps a field name to a list of ``{"key", "description"}`` dicts.
    """

    def __init__(self, fields: Mapping[str, Sequence[Mapping[str, str]]]) -> None:
        self.fields = {name: [dict(e) for e in errs] for name, errs in fields.items()}
        summary = "; ".join(
            f"{name}: {err.get('description', err.get('key', ''))}"
            for name, errs in self.fields.items()
            for err in errs
        )
        super().__init__(summary or "invalid input")

    @classmethod
    def single(cls, field: str, key: str, description: str) -> ValidationError:
        return cls({field: [{"key": key, "description": description}]})


class NotFound(CalsyncError):
    """No such object, or it belongs to another account (we never say which)."""


class Conflict(CalsyncError):
    """The current state forbids the change, e.g. deleting a calendar with events."""

    def __init__(self, message: str, *, key: str = "conflict", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.key = key


class LeaseLost(Conflict):
    """A commit of a calendar's sync found its lease gone or granted to another
    replica (the fencing token moved on): the commit is rolled back."""

    def __init__(self, message: str) -> None:
        super().__init__(message, key="lease_lost")


class AuthError(CalsyncError):
    """Unknown, expired or revoked credentials presented to calsync itself."""


class StoreError(CalsyncError):
    """The store cannot be reached or is at the wrong schema version."""

    hint = "Check [store] url, and run `calsync db upgrade`."


class ProviderError(CalsyncError):
    """A remote calendar service failed. Never corrupts the store."""


class RateLimited(ProviderError):
    """The provider asked us to slow down for ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, hint="calsync backs off and retries by itself.")
        self.retry_after = retry_after


class CredentialsInvalid(ProviderError):
    """The provider refuses our credentials; the profile is marked disconnected."""

    hint = "Reconnect the account (`calsync account add`) or fix its secret file."


class CursorExpired(ProviderError):
    """The stored sync cursor is no longer valid; the engine runs a full reconcile."""


class PreconditionFailed(ProviderError):
    """The remote object changed since we read it (etag mismatch): re-pull and re-plan."""


class TransientProviderError(ProviderError):
    """A 5xx or a network fault; retrying later is expected to work."""
