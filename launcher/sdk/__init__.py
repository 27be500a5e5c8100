"""The Python SDK: `Commons(url, token)` runs models, follows, reproduces and downloads tasks (see `commons.py`)."""

from launcher.client import ApiError
from launcher.sdk.commons import Commons
from launcher.sdk.credentials import Credentials
from launcher.sdk.errors import BadArgument, DownloadError, NotSignedIn, SdkError, TaskFailed
from launcher.sdk.outputs import Outputs

__all__ = [
    "ApiError",
    "BadArgument",
    "Commons",
    "Credentials",
    "DownloadError",
    "NotSignedIn",
    "Outputs",
    "SdkError",
    "TaskFailed",
]
