"""File storage: a small protocol with a local backend (signed URLs) and, later, S3."""

from __future__ import annotations

from functools import lru_cache

from lashme.settings import get_settings
from lashme.storage.base import Storage, StorageError
from lashme.storage.local import LocalStorage

__all__ = ["LocalStorage", "Storage", "StorageError", "get_storage"]


@lru_cache(maxsize=1)
def get_storage() -> Storage:
    """The configured storage backend (local folder under ``data_dir`` by default)."""
    s = get_settings()
    return LocalStorage(s.storage_dir, signing_key=s.signing_key())
