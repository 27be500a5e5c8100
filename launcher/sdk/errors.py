"""What the SDK raises besides the API's own errors (`launcher.client.ApiError`): each carries `message`, plain
words for a person (what was wrong, what to do), which the command line prints as it is."""

from __future__ import annotations

from typing import Any


class SdkError(Exception):
    """A problem found on this side of the API: a bad argument, missing credentials, a corrupt download."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotSignedIn(SdkError):
    """No URL or token: neither in the environment (COMMONS_URL, COMMONS_TOKEN) nor in the credentials file."""


class BadArgument(SdkError):
    """An argument the API would refuse or could not be sent: a bad RESOURCE[:VERSION], `k=v` or file."""


class DownloadError(SdkError):
    """An output could not be written where asked, or its bytes did not match the size or sha256 the task lists."""


class TaskFailed(SdkError):
    """The task ended failed or cancelled; `task` is the task as the API shows it, `error` in it says why."""

    def __init__(self, task: dict[str, Any]) -> None:
        reason = task.get("error") or "no reason was recorded"
        super().__init__(f"task {task['id']} {task['status']}: {reason}")
        self.task = task
