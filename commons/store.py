"""Object store client (any S3 API: SeaweedFS embedded, MinIO, AWS) with retry and backoff."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import urllib3
from minio import Minio
from minio.error import S3Error

from commons.errors import NotFound, ServiceUnavailable
from commons.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")
RETRYABLE_S3_CODES = {"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout"}


def _with_retry(action: Callable[[], T], *, what: str, attempts: int = 4, base_delay: float = 0.25) -> T:
    """Run an object-store call, retrying transient failures with exponential backoff."""
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except S3Error as error:
            if error.code in ("NoSuchKey", "NoSuchBucket"):
                raise NotFound(f"object store has no {what}") from error
            if error.code not in RETRYABLE_S3_CODES or attempt == attempts:
                raise ServiceUnavailable(f"object store refused {what}: {error.code} {error.message}") from error
        except (urllib3.exceptions.HTTPError, OSError) as error:
            if attempt == attempts:
                raise ServiceUnavailable(
                    f"object store unreachable while handling {what}: {error}; check COMMONS_S3_ENDPOINT"
                ) from error
        delay = base_delay * 2 ** (attempt - 1)
        log.warning("object store call %s failed (attempt %d/%d); retrying in %.2fs", what, attempt, attempts, delay)
        time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


class ObjectStore:
    """Keys are built by callers from ids (see `keys`), never from user-supplied paths."""

    def __init__(self, *, endpoint: str, access_key: str, secret_key: str, bucket: str, secure: bool, region: str):
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5, read=120),
            retries=urllib3.Retry(total=3, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
            maxsize=16,
        )
        self.client = Minio(
            endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region, http_client=http
        )
        self.bucket = bucket
        self.endpoint = endpoint

    @classmethod
    def from_settings(cls, settings: Settings) -> ObjectStore:
        return cls(
            endpoint=settings.resolved_s3_endpoint,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            bucket=settings.s3_bucket,
            secure=settings.s3_secure,
            region=settings.s3_region,
        )

    def ensure_bucket(self) -> None:
        def create() -> None:
            if not self.client.bucket_exists(self.bucket):
                self.client.make_bucket(self.bucket)

        _with_retry(create, what=f"bucket {self.bucket}")

    def healthy(self) -> bool:
        try:
            return bool(self.client.bucket_exists(self.bucket))
        except Exception:  # any failure means not healthy; the reason is not needed here
            return False

    def put_bytes(self, *, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        _with_retry(
            lambda: self.client.put_object(self.bucket, key, io.BytesIO(data), len(data), content_type=content_type),
            what=key,
        )

    def put_file(self, *, key: str, path: Path, content_type: str = "application/octet-stream") -> None:
        _with_retry(lambda: self.client.fput_object(self.bucket, key, str(path), content_type=content_type), what=key)

    def get_bytes(self, key: str) -> bytes:
        def read() -> bytes:
            response = self.client.get_object(self.bucket, key)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

        return _with_retry(read, what=key)

    def download(self, *, key: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        _with_retry(lambda: self.client.fget_object(self.bucket, key, str(path)), what=key)

    def exists(self, key: str) -> bool:
        try:
            _with_retry(lambda: self.client.stat_object(self.bucket, key), what=key)
        except NotFound:
            return False
        return True

    def list_keys(self, prefix: str) -> Iterator[str]:
        for item in self.client.list_objects(self.bucket, prefix=prefix, recursive=True):
            if item.object_name is not None:
                yield item.object_name

    def delete_prefix(self, prefix: str) -> int:
        keys = list(self.list_keys(prefix))
        for key in keys:
            _with_retry(lambda key=key: self.client.remove_object(self.bucket, key), what=key)  # type: ignore[misc]
        return len(keys)

    def presigned_url(self, key: str, *, expires_seconds: int) -> str:
        return self.client.presigned_get_object(self.bucket, key, expires=timedelta(seconds=expires_seconds))


class keys:
    """Object keys, built only from ids and code-chosen names (docs/architecture.md "Storage")."""

    @staticmethod
    def version_file(resource_id: str, version: int, file_name: str) -> str:
        return f"resources/{resource_id}/{version}/{file_name}"

    @staticmethod
    def version_blob(resource_id: str, sha256: str, file_name: str) -> str:
        """A version file by content (stored before its version's row exists; see registry/versions.py)."""
        return f"resources/{resource_id}/sha256/{sha256}/{file_name}"

    @staticmethod
    def upload(upload_id: str) -> str:
        return f"uploads/{upload_id}"

    @staticmethod
    def dataset_item(dataset_id: str, sha256: str, ext: str) -> str:
        return f"datasets/{dataset_id}/{sha256}.{ext}"

    @staticmethod
    def dataset_prefix(dataset_id: str) -> str:
        return f"datasets/{dataset_id}/"

    @staticmethod
    def task_output(task_id: str, relative: str) -> str:
        return f"tasks/{task_id}/outputs/{relative}"

    @staticmethod
    def task_input(task_id: str, relative: str) -> str:
        return f"tasks/{task_id}/inputs/{relative}"

    @staticmethod
    def task_outputs_prefix(task_id: str) -> str:
        return f"tasks/{task_id}/outputs/"

    @staticmethod
    def task_prefix(task_id: str) -> str:
        return f"tasks/{task_id}/"

    @staticmethod
    def task_manifest(task_id: str) -> str:
        return f"tasks/{task_id}/manifest.json"
