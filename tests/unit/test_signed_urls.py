"""Signed, expiring file URLs: accepted intact, refused when tampered with or expired."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from lashme.errors import LinkInvalid
from lashme.files.files_api import build_api
from lashme.files.storage.local import LocalStorage


@pytest.fixture
def store(tmp_path):
    s = LocalStorage(tmp_path, signing_key=b"k" * 32)
    s.put("u1/job/variants/0/full.jpg", b"\xff\xd8jpeg-bytes")
    return s


def _parts(url):
    u = urlsplit(url)
    q = {k: v[0] for k, v in parse_qs(u.query).items()}
    return u.path.removeprefix("/files/"), q.get("e", ""), q.get("n", ""), q.get("s", "")


def test_valid_url_resolves(store):
    key, e, n, s = _parts(store.url("u1/job/variants/0/full.jpg", expires_in=60))
    assert store.resolve_signed(key, e, n, s).read_bytes() == b"\xff\xd8jpeg-bytes"


@pytest.mark.parametrize("field", ["key", "expiry", "name", "signature"])
def test_tampered_url_refused(store, field):
    key, e, n, s = _parts(store.url("u1/job/variants/0/full.jpg", expires_in=60, download_name="a.jpg"))
    if field == "key":
        store.put("u2/job/variants/0/full.jpg", b"other user's file")
        key = "u2/job/variants/0/full.jpg"
    elif field == "expiry":
        e = str(int(e) + 3600)
    elif field == "name":
        n = "b.jpg"
    else:
        s = s[:-2] + ("AA" if not s.endswith("AA") else "BB")
    with pytest.raises(LinkInvalid) as err:
        store.resolve_signed(key, e, n, s)
    assert err.value.key == "files.link_invalid"


def test_expired_url_refused(store):
    key, e, n, s = _parts(store.url("u1/job/variants/0/full.jpg", expires_in=10))
    with pytest.raises(LinkInvalid) as err:
        store.resolve_signed(key, e, n, s, now=time.time() + 10 * 1.25 + 1)
    assert err.value.key == "files.link_expired"


def test_urls_stay_the_same_for_a_while_so_browsers_can_cache(store, monkeypatch):
    clock = iter([1_000_000.0, 1_000_100.0, 1_000_000.0 + 3600])
    monkeypatch.setattr("lashme.files.storage.local.time.time", lambda: next(clock))
    first = store.url("u1/job/variants/0/thumb.jpg", expires_in=3600)
    assert store.url("u1/job/variants/0/thumb.jpg", expires_in=3600) == first
    expires = int(parse_qs(urlsplit(first).query)["e"][0])
    assert 1_000_000 + 3600 <= expires <= 1_000_000 + 3600 * 1.25
    assert store.url("u1/job/variants/0/thumb.jpg", expires_in=3600) != first  # an hour later: a new one


def test_path_traversal_refused(store):
    with pytest.raises(LinkInvalid):
        store.resolve_signed("../secret_key", str(int(time.time()) + 60), "", "x")


def test_http_route(tmp_path, monkeypatch):
    store = LocalStorage(tmp_path, signing_key=b"k" * 32)
    store.put("anon/j/variants/1/preview.jpg", b"\xff\xd8preview")
    monkeypatch.setattr("lashme.files.files_api.get_storage", lambda: store)
    client = TestClient(build_api())
    url = store.url("anon/j/variants/1/preview.jpg", expires_in=60)
    ok = client.get(url)
    assert ok.status_code == 200 and ok.content == b"\xff\xd8preview"
    assert ok.headers["content-type"] == "image/jpeg"
    dl = client.get(store.url("anon/j/variants/1/preview.jpg", expires_in=60, download_name="x.jpg"))
    assert dl.headers["content-disposition"].startswith("attachment")
    assert client.get(url.replace("preview", "full")).status_code == 403
    assert client.get(url[:-3] + "abc").status_code == 403


def test_one_signer_for_every_link_kind_and_none_validates_another():
    """Storage URLs and user-bound download links share the itsdangerous signer, but never signatures."""
    from lashme.files import downloads
    from lashme.files.signing import LinkSigner
    from lashme.ops.settings import get_settings

    secret = get_settings().signing_key()
    exp = int(time.time()) + 60
    zip_sig = parse_qs(urlsplit(downloads.zip_url("abc", user_id=7, expires_in=60)).query)["s"][0]
    variant_q = parse_qs(urlsplit(downloads.variant_url("abc", "full", user_id=7, expires_in=60)).query)
    assert downloads.check_signature("variant-full", "abc", "7", variant_q["e"][0], variant_q["s"][0]) == 7
    for purpose in ("variant-full", "variant-insta"):  # a ZIP link's signature opens no variant
        with pytest.raises(LinkInvalid):
            downloads.check_signature(purpose, "abc", "7", variant_q["e"][0], zip_sig)
    file_sig = LinkSigner(secret, "files").sign("abc", "7", expires=exp)
    with pytest.raises(LinkInvalid):  # nor does a storage URL's signature over the same text
        downloads.check_signature("zip", "abc", "7", str(exp), file_sig)


def test_moving_text_between_signed_parts_breaks_the_signature(store):
    key, e, n, s = _parts(store.url("u1/job/variants/0/full.jpg", expires_in=60, download_name="a.jpg"))
    with pytest.raises(LinkInvalid):
        store.resolve_signed("u1/job/variants/0/full.jpg\na.jpg", e, "", s)
    with pytest.raises(LinkInvalid):  # a malformed signature is refused, not an error
        store.resolve_signed(key, e, n, "%%not-base64%%")
