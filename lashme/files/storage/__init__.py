"""File storage: a small protocol with a local backend (signed URLs) and S3 (presigned URLs)."""

from __future__ import annotations

from functools import lru_cache

from lashme.files.storage.base import Storage, StorageError
from lashme.files.storage.local import LocalStorage
from lashme.ops.settings import get_settings

__all__ = ["LocalStorage", "Storage", "StorageError", "get_storage"]


@lru_cache(maxsize=1)
def get_storage() -> Storage:
    """The configured storage backend: S3 when ``S3_BUCKET`` is set, else a folder under ``data_dir``."""
    s = get_settings()
    if s.s3_bucket:
        from lashme.files.storage.s3 import S3Storage

        return S3Storage(
            s.s3_bucket,
            endpoint_url=s.s3_endpoint_url,
            public_endpoint_url=s.s3_public_endpoint_url,
            region=s.s3_region,
            access_key_id=s.s3_access_key_id,
            secret_access_key=s.s3_secret_access_key,
            addressing_style=s.s3_addressing_style,
        )
    return LocalStorage(s.storage_dir, signing_key=s.signing_key(), public_url=s.public_url)
