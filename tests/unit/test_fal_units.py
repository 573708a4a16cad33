"""fal pieces without a server: migration seed, provider selection, error mapping, webhook verification."""

from __future__ import annotations

import hashlib
import os
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, select
from sqlmodel import Session

from lashme.images import presets
from lashme.models import PresetVersion
from lashme.ops.launcher import migrate
from lashme.ops.settings import get_settings
from lashme.providers import fal as fal_provider
from lashme.providers import fal_webhook
from lashme.providers.registry import get_provider


def test_migration_seeds_the_same_presets_as_the_code_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    migrate({**os.environ, "DATABASE_URL": url})
    with Session(create_engine(url)) as s:
        rows = list(
            s.execute(
                select(PresetVersion).where(PresetVersion.provider == "fal").order_by(PresetVersion.id)
            ).scalars()
        )
        assert [r.name for r in rows] == list(presets.FAL_STYLES)
        for r in rows:
            assert r.prompt == f"{presets.BASE_PROMPT}; {presets.FAL_STYLES[r.name]}"
            assert (r.model, r.strength, r.params, r.active, r.version) == (
                presets.FAL_MODEL,
                presets.FAL_STRENGTH,
                presets.FAL_PARAMS,
                True,
                1,
            )
        assert presets.ensure_fal_defaults(s) == 0
        new = presets.publish_version(s, provider="fal", name="natural", model="m", prompt="p", strength=0.3)
        assert new.version == 2
        active = presets.active_versions(s, "fal", ["natural", "warm_glow"])
        assert [a.id for a in active] == [new.id, rows[1].id]
        with pytest.raises(presets.PresetMissing):
            presets.active_versions(s, "fal", ["nope"])


def test_fal_key_selects_the_fal_provider(monkeypatch):
    monkeypatch.setenv("FAL_KEY", "k:s")
    get_settings.cache_clear()
    try:
        assert get_settings().provider_name == "fal"
        provider = get_provider("fal")
        assert isinstance(provider, fal_provider.FalProvider) and provider.name == "fal"
    finally:
        monkeypatch.delenv("FAL_KEY")
        get_settings.cache_clear()
    with pytest.raises(ValueError):
        get_provider("fal")  # no key


@pytest.mark.parametrize(
    ("code", "transient", "key"),
    [
        (429, True, "generation.failed"),
        (503, True, "generation.failed"),
        (500, True, "generation.failed"),
        (422, False, "generation.rejected"),
        (401, False, "generation.failed"),
    ],
)
def test_http_errors_map_to_transient_or_permanent(code, transient, key):
    import httpx
    from fal_client.client import FalClientHTTPError

    exc = FalClientHTTPError("x", code, {}, httpx.Response(code))
    err = fal_provider._http_error(exc)
    assert (err.transient, err.reason_key) == (transient, key)


@pytest.fixture
def keyring(monkeypatch):
    key = Ed25519PrivateKey.generate()
    fetches = []

    def fake_fetch(url):
        fetches.append(url)
        return [key.public_key()]

    monkeypatch.setattr(fal_webhook, "_fetch_keys", fake_fetch)
    fal_webhook.clear_key_cache()
    yield key, fetches
    fal_webhook.clear_key_cache()


def _headers(key, body, ts):
    msg = f"rid\nuid\n{ts}\n{hashlib.sha256(body).hexdigest()}".encode()
    return {
        "x-fal-webhook-request-id": "rid",
        "x-fal-webhook-user-id": "uid",
        "x-fal-webhook-timestamp": str(ts),
        "x-fal-webhook-signature": key.sign(msg).hex(),
    }


def test_verify_checks_signature_and_window_and_caches_keys(keyring):
    key, fetches = keyring
    body, now = b'{"status": "OK"}', int(time.time())
    assert fal_webhook.verify(_headers(key, body, now), body) == "rid"
    assert fal_webhook.verify(_headers(key, body, now - 299), body) == "rid"
    assert len(fetches) == 1  # cached
    with pytest.raises(fal_webhook.WebhookRejected):
        fal_webhook.verify(_headers(key, body, now - 301), body)
    with pytest.raises(fal_webhook.WebhookRejected):
        fal_webhook.verify(_headers(key, body, now + 301), body)
    with pytest.raises(fal_webhook.WebhookRejected):
        fal_webhook.verify(_headers(Ed25519PrivateKey.generate(), body, now), body)
    # keys older than the TTL are fetched again
    fal_webhook._cache["fetched"] -= 24 * 3600 + 1
    fal_webhook.verify(_headers(key, body, now), body)
    assert len(fetches) == 2


def test_verify_refuses_webhooks_of_another_fal_account_when_ours_is_set(keyring, monkeypatch):
    from lashme.ops.settings import get_settings

    key, _ = keyring
    body, now = b'{"status": "OK"}', int(time.time())
    monkeypatch.setattr(get_settings(), "fal_user_id", "someone-else")
    with pytest.raises(fal_webhook.WebhookRejected):
        fal_webhook.verify(_headers(key, body, now), body)
    monkeypatch.setattr(get_settings(), "fal_user_id", "uid")
    assert fal_webhook.verify(_headers(key, body, now), body) == "rid"
