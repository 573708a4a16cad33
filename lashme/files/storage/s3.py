"""S3-compatible object storage (AWS S3, Cloudflare R2, MinIO) through boto3.

The bucket stays private: browsers read objects only through presigned GET
URLs (AWS Signature Version 4, query-string auth) that expire after
``expires_in`` seconds; downloads carry a ``Content-Disposition: attachment``
filename through the signed ``response-content-disposition`` parameter.
Keys follow :mod:`lashme.files.storage.base` (``{owner}/{job_id}/...``), so a job's
objects are deleted by prefix.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from lashme.files.storage.base import StorageError

_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]")
_DELETE_BATCH = 1000  # DeleteObjects accepts at most 1000 keys per request


def _check_key(key: str) -> str:
    if not key or key.startswith("/") or ".." in key.split("/"):
        raise StorageError(f"invalid key {key!r}")
    return key


def _content_disposition(name: str) -> str:
    """``attachment`` with a safe ASCII fallback and an RFC 6266 / RFC 5987 UTF-8 filename.

    The plain ``filename`` keeps only ``[A-Za-z0-9._-]`` (anything else becomes
    ``_``; no quotes, semicolons, backslashes or control characters can reach
    the header); ``filename*`` carries the full name percent-encoded.
    """
    ascii_name = _UNSAFE_FILENAME.sub("_", name).strip(".") or "download"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


class S3Storage:
    """Objects in one private S3 bucket.

    Args:
        bucket: bucket name (must exist).
        endpoint_url: S3 API endpoint, e.g. ``https://<account>.r2.cloudflarestorage.com``;
            ``None`` for AWS.
        public_endpoint_url: endpoint browsers reach, when it differs from
            ``endpoint_url`` (e.g. MinIO behind a proxy); presigned URLs are signed for it.
        region: region name (``auto`` for R2).
        access_key_id: access key (``None``: boto3's default credential chain).
        secret_access_key: secret key.
        addressing_style: ``path`` or ``virtual``.
        timeout: connect and read timeout of each request, seconds.
    """

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        public_endpoint_url: str | None = None,
        region: str = "auto",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        addressing_style: str = "path",
        timeout: float = 10,
    ) -> None:
        self.bucket = bucket
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": addressing_style},
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"max_attempts": 3, "mode": "standard"},
        )
        creds = {"aws_access_key_id": access_key_id, "aws_secret_access_key": secret_access_key}
        self._client = boto3.client(
            "s3", endpoint_url=endpoint_url, region_name=region, config=config, **creds
        )
        self._signer = (
            boto3.client("s3", endpoint_url=public_endpoint_url, region_name=region, config=config, **creds)
            if public_endpoint_url
            else self._client
        )

    def put(self, key: str, data: bytes, *, content_type: str = "image/jpeg") -> None:
        """Write ``data`` at ``key`` with its ``Content-Type``. Raises StorageError."""
        try:
            self._client.put_object(
                Bucket=self.bucket, Key=_check_key(key), Body=data, ContentType=content_type
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"write failed for {key}: {type(exc).__name__}") from exc

    def get(self, key: str) -> bytes:
        """Read ``key``. Raises StorageError when missing or unreachable."""
        try:
            return self._client.get_object(Bucket=self.bucket, Key=_check_key(key))["Body"].read()
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"read failed for {key}: {type(exc).__name__}") from exc

    def exists(self, key: str) -> bool:
        """True when ``key`` is stored. Raises StorageError on errors other than 404."""
        try:
            self._client.head_object(Bucket=self.bucket, Key=_check_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise StorageError(f"head failed for {key}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"head failed for {key}") from exc
        return True

    def _keys(self, prefix: str):
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            yield from page.get("Contents", [])

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under the folder ``prefix``; returns how many. Raises StorageError."""
        prefix = _check_key(prefix.rstrip("/")) + "/"
        count = 0
        try:
            batch: list[dict] = []
            for obj in self._keys(prefix):
                batch.append({"Key": obj["Key"]})
                if len(batch) == _DELETE_BATCH:
                    count += self._delete(batch)
                    batch = []
            if batch:
                count += self._delete(batch)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"delete failed for {prefix}: {type(exc).__name__}") from exc
        return count

    def _delete(self, batch: list[dict]) -> int:
        resp = self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
        if resp.get("Errors"):
            raise StorageError(f"{len(resp['Errors'])} objects were not deleted")
        return len(batch)

    def usage(self, prefix: str = "") -> tuple[int, int]:
        """``(objects, bytes)`` stored under ``prefix`` (whole bucket by default). Raises StorageError."""
        try:
            objs = [o["Size"] for o in self._keys(prefix)]
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"list failed: {type(exc).__name__}") from exc
        return len(objs), sum(objs)

    def url(self, key: str, *, expires_in: int, download_name: str | None = None) -> str:
        """A presigned GET URL valid for ``expires_in`` seconds (attachment when ``download_name``)."""
        params = {"Bucket": self.bucket, "Key": _check_key(key)}
        if download_name:
            params["ResponseContentDisposition"] = _content_disposition(download_name)
        return self._signer.generate_presigned_url("get_object", Params=params, ExpiresIn=int(expires_in))

    def presigned_url(self, key: str, *, expires_in: int) -> str:
        """An absolute URL a third party (e.g. a generation provider) can GET for ``expires_in`` s."""
        return self.url(key, expires_in=expires_in)

    def ping(self) -> None:
        """Check the bucket is reachable with these credentials (HEAD bucket). Raises StorageError."""
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"bucket {self.bucket} unreachable: {type(exc).__name__}") from exc
