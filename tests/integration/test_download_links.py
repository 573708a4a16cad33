"""Download links are bound to the user they were issued to, over real HTTP."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlsplit

import httpx
from PIL import Image

from lashme.accounts import auth
from lashme.app import variant as app_variant
from lashme.app.caller import from_verified_user
from lashme.credits import unlocks
from lashme.files.download_routes import SESSION_COOKIE
from lashme.jobs import fullres, generation, uploads
from lashme.jobs.lifecycle import variants_of
from lashme.ops.db import session_scope
from tests.photos import chelsea_jpeg


def _user(email):
    with session_scope() as s:
        user = auth.sign_up(s, email=email, password="Secret123", signup_bonus=3)
        return user.id, auth.start_session(s, user_id=user.id)


def test_variant_download_link_works_only_for_its_owner(clean_db, redis_conn, api_url):
    alice, alice_token = _user("alice@example.com")
    _, bob_token = _user("bob@example.com")
    job = uploads.submit_photo(chelsea_jpeg(), user_id=alice, anon_token=None, enqueue=False)
    generation.run(job.id)
    with session_scope() as s:
        vid = variants_of(s, job.id)[0].id
        unlocks.unlock_variant(s, user_id=alice, variant_id=vid, cost=1)
    fullres.render(vid)  # the worker's step after an unlock: the full-size file and its crops
    link = app_variant.download_link(from_verified_user(alice), vid, "full")
    assert link.startswith(f"/dl/variant/{vid}/full?")

    def get(url, token=None):
        cookies = {SESSION_COOKIE: token} if token else None
        return httpx.get(api_url + url, cookies=cookies, follow_redirects=False, timeout=30)

    assert get(link).status_code == 404  # no session
    assert get(link, bob_token).status_code == 404  # someone else's session
    tampered = link.replace("full?", "insta?")
    assert get(tampered, alice_token).status_code == 403
    u = parse_qs(urlsplit(link).query)
    forged = f"/dl/variant/{vid}/full?u={u['u'][0]}&e={int(u['e'][0]) + 999}&s={u['s'][0]}"
    assert get(forged, alice_token).status_code == 403

    ok = get(link, alice_token)
    assert ok.status_code == 303 and ok.headers["location"].startswith("/files/")
    file = httpx.get(api_url + ok.headers["location"], timeout=30)
    assert file.status_code == 200 and "attachment" in file.headers["content-disposition"]
    assert Image.open(io.BytesIO(file.content)).format == "JPEG"

    with session_scope() as s:  # a variant she did not unlock gives no link at all
        other = variants_of(s, job.id)[1].id
    try:
        app_variant.download_link(from_verified_user(alice), other, "full")
        raise AssertionError("a locked variant must not get a download link")
    except Exception as exc:  # noqa: BLE001
        assert getattr(exc, "key", "") == "variant.not_found"
