"""Domain errors raised below the API layer; only `api/` maps them to HTTP status codes.

Every message says what was wrong and what to do about it.
"""

from __future__ import annotations


class CommonsError(Exception):
    """Base class of every domain error."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(CommonsError):
    """The caller sent something that cannot be used (bad config, bad parameters, bad image)."""


class InvalidImage(InvalidInput):
    """An uploaded file is not a decodable image, is empty, truncated or too large in pixels."""


class InvalidWeights(InvalidInput):
    """A weights file is unreadable, unsafe to unpickle, or does not fit the declared config."""


class DigestMismatch(InvalidInput):
    """A file's sha256 differs from the one the caller declared."""


class ExecutionNotAllowed(InvalidInput):
    """A version's execution spec names an image or resources the deployment's policy does not allow."""


class TooLarge(CommonsError):
    """An upload exceeds the configured size limit."""


class NotFound(CommonsError):
    """The thing does not exist, or the caller may not know that it exists."""


class Forbidden(CommonsError):
    """The caller is known but lacks the right for this action."""


class Unauthorized(CommonsError):
    """The caller could not be identified (wrong password, missing or expired token)."""


class Conflict(CommonsError):
    """The action collides with the current state (duplicate name, task already finished)."""


class ServiceUnavailable(CommonsError):
    """A backing service (object store, database, Prefect) cannot be reached."""


class DeviceTooSmall(CommonsError):
    """The worker's accelerator cannot hold what the version declared it needs."""


class StorageQuotaExceeded(TooLarge):
    """What the caller stores would take them over their storage quota (413, like any upload too large)."""


class TaskQuotaExceeded(CommonsError):
    """The caller already has as many tasks pending or running as their quota allows; `retry_after` says
    when to try again (429 with Retry-After: the quota frees itself as tasks end)."""

    def __init__(self, message: str, *, retry_after: int, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.retry_after = retry_after
