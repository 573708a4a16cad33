"""Settings: embedded defaults and the generated signing key."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from lashme.ops.settings import Settings


def test_defaults_are_embedded(tmp_path, monkeypatch):
    for var in ("DATABASE_URL", "REDIS_URL", "FAL_KEY", "LASHME_PROVIDER", "LASHME_SECRET_KEY"):
        monkeypatch.delenv(var, raising=False)
    s = Settings(data_dir=tmp_path)
    assert s.resolved_database_url == f"sqlite:///{tmp_path.resolve() / 'lashme.ops.db'}"
    assert s.provider_name == "studio"
    assert s.storage_dir == tmp_path / "storage"


def test_fal_key_selects_fal(tmp_path, monkeypatch):
    monkeypatch.delenv("LASHME_PROVIDER", raising=False)
    monkeypatch.setenv("FAL_KEY", "key-id:secret")
    assert Settings(data_dir=tmp_path).provider_name == "fal"


def test_signing_key_is_created_once_and_shared(tmp_path, monkeypatch):
    monkeypatch.delenv("LASHME_SECRET_KEY", raising=False)
    data = tmp_path / "data"
    with ThreadPoolExecutor(8) as pool:
        keys = list(pool.map(lambda _: Settings(data_dir=data).signing_key(), range(16)))
    assert len(set(keys)) == 1 and len(keys[0]) >= 48
    assert (data / "secret_key").stat().st_mode & 0o777 == 0o600
    assert list(data.iterdir()) == [data / "secret_key"]  # no temp files left behind
