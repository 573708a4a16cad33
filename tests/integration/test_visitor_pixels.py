"""Visitors and other users get only watermarked, low-res pixels: every URL in every websocket message.

A real Reflex backend (``reflex run --env prod --backend-only``) serves the pages' events and the
signed files.  Alice owns a DONE job with one variant unlocked and rendered (clean files exist on
disk); a visitor has a DONE job of her own.  The visitor and Bob (another user) connect over the
websocket like a browser tab (``tests/integration/reflex_client.py``), send every event a page
offers them (job, variant, gallery, dashboard, credits, unlock, download) for their own and for
Alice's ids, and every URL found in any message they receive is fetched: each image must be
watermarked (compared with a clean render of the same preset, as ``tests/integration/app/test_fullres.py``
does) and at most the preview size.  Alice's own clean preview, fetched the same way, is the
control: the check does see a clean image.
"""

from __future__ import annotations

import io
import json
import os
import re
import threading
import time
import uuid

import httpx
import numpy as np
import pytest
import socketio
from PIL import Image

from lashme.accounts import auth
from lashme.app import variant as app_variant
from lashme.app.caller import Caller
from lashme.app.session import SESSION_COOKIE
from lashme.files.storage import get_storage
from lashme.images import previews
from lashme.jobs import fullres, uploads
from lashme.jobs import lifecycle as jobs
from lashme.jobs.generation import run as run_job
from lashme.models import Variant
from lashme.ops.db import session_scope
from lashme.ops.redis_server import free_port
from tests.integration.app.test_fullres import _clean_like
from tests.integration.faultkit import Procs, wait_until
from tests.integration.reflex_client import ReflexClient
from tests.photos import chelsea_jpeg

pytestmark = pytest.mark.slow
URL = re.compile(r"""(?:https?://[^\s"'\\]+|/(?:files|dl|api)/[^\s"'\\]+)""")
KEY = re.compile(r"([0-9a-f]{32})/variants/(\d+)/")


class RecordingClient(ReflexClient):
    """A tab that keeps every whole message (deltas and the events the server sends back)."""

    def __init__(self, base_url: str, token: str, cookie: str = "") -> None:  # noqa: D107
        self.messages: list[dict] = []
        self.finals = 0
        self._cv = threading.Condition()
        self.token, self.deltas, self._got = token, [], threading.Condition()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("event", self._on_event, namespace="/_event")
        self.sio.connect(  # the handshake carries the browser's cookies (the HttpOnly sign-in cookie)
            f"{base_url}?token={token}",
            headers={"Cookie": cookie} if cookie else {},
            socketio_path="/_event",
            transports=["websocket"],
            namespaces=["/_event"],
            wait_timeout=10,
        )

    def _on_event(self, data) -> None:
        with self._cv:
            self.messages.append(data)
            self.finals += 1 if data.get("final", True) else 0
            self._cv.notify_all()
        super()._on_event(data)

    def call(self, name: str, payload: dict | None = None, path: str = "/", timeout: float = 30) -> None:
        """Send one event as a page at ``path`` would and wait until the backend has finished it."""
        with self._cv:
            seen = self.finals
        self.sio.emit(
            "event",
            {
                "name": name,
                "payload": payload or {},
                "token": self.token,
                "router_data": {"pathname": path, "asPath": path, "query": {}, "headers": {}},
            },
            namespace="/_event",
        )
        deadline = time.monotonic() + timeout
        with self._cv:
            while self.finals <= seen:
                left = deadline - time.monotonic()
                assert left > 0, f"{name} at {path} got no final update"
                self._cv.wait(left)

    def urls(self) -> set[str]:
        return set(URL.findall(json.dumps(self.messages)))


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int16)


def _watermarked(url: str, served: np.ndarray, original: bytes) -> bool:
    """True when ``served`` differs from a clean render of its variant by the watermark's strokes."""
    found = KEY.search(url)
    assert found, f"an image that is not a variant file was given out: {url}"
    with session_scope() as s:
        variant = s.query(Variant).filter_by(job_id=found.group(1), index=int(found.group(2))).one()
        preset = variant.preset
    clean = _clean_like(original, preset, (served.shape[1], served.shape[0]))
    if clean.shape != served.shape:
        return True  # not even the same picture at that size
    return bool((np.abs(served - clean).max(axis=2) > 60).mean() > 0.01)


def _check_pixels(base: str, urls: set[str], original: bytes) -> tuple[int, list[str]]:
    """Fetch every URL; returns (images fetched, problems)."""
    images, problems = 0, []
    with httpx.Client(base_url=base, timeout=20, follow_redirects=True) as http:
        for url in sorted(urls):
            resp = http.get(url)
            if resp.status_code != 200 or not resp.headers.get("content-type", "").startswith("image/"):
                continue  # refused or not a picture: no pixels given
            images += 1
            served = _pixels(resp.content)
            if max(served.shape[:2]) > previews.PREVIEW_MAX_SIDE:
                problems.append(f"larger than a preview ({served.shape[1]}x{served.shape[0]}): {url}")
            if not _watermarked(url, served, original):
                problems.append(f"un-watermarked pixels: {url}")
    return images, problems


@pytest.fixture
def backend(clean_db, tmp_path):
    port = free_port()
    env = dict(os.environ) | {
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_WEB_WORKDIR": str(tmp_path / ".web"),
        "REFLEX_STATES_WORKDIR": str(tmp_path / ".states"),
    }
    procs = Procs(tmp_path, env)
    proc = procs.start(
        "backend",
        ["-m", "reflex", "run", "--env", "prod", "--backend-only", "--backend-host", "127.0.0.1",
         "--backend-port", str(port), "--loglevel", "warning"],
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def up():
        assert proc.poll() is None, procs.logs()
        try:
            return httpx.get(f"{url}/healthz", timeout=3).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, 180, 0.3, what="the backend")
        yield url
    finally:
        procs.stop_all()


def test_visitors_and_other_users_receive_only_watermarked_low_res_pixels(backend):
    from reflex.state import UpdateVarsInternalState

    from lashme.ui.pages.credits import CreditsState
    from lashme.ui.pages.dashboard import DashboardState
    from lashme.ui.pages.gallery import GalleryState
    from lashme.ui.pages.job import JobState
    from lashme.ui.pages.variant_state import VariantState
    from lashme.ui.state import SessionState

    photo = chelsea_jpeg()
    with session_scope() as s:
        alice = auth.sign_up(s, email="alice@example.com", password="Secret123", signup_bonus=3).id
        bob = auth.sign_up(s, email="bob@example.com", password="Secret123", signup_bonus=3).id
    job = uploads.submit_photo(photo, user_id=alice, anon_token=None, enqueue=False)
    run_job(job.id)
    with session_scope() as s:
        vids = [v.id for v in jobs.variants_of(s, job.id)]
    app_variant.unlock(Caller(alice, None, frozenset(), "en", None), vids[0])
    assert fullres.render(vids[0]) == fullres.READY
    with session_scope() as s:
        clean_preview = s.get(Variant, vids[0]).clean_preview_key

    session, job_s, variant_s = (
        SessionState.get_full_name(),
        JobState.get_full_name(),
        VariantState.get_full_name(),
    )

    update_vars = f"{UpdateVarsInternalState.get_full_name()}.update_vars_internal"

    def visit(path: str, events: list[tuple[str, dict]], cookies: dict[str, str]) -> RecordingClient:
        """One page load in a new tab: the browser's cookies, then the page's events at ``path``."""
        header = f"{SESSION_COOKIE}={cookies['session']}" if cookies.get("session") else ""
        tab = RecordingClient(backend, uuid.uuid4().hex, cookie=header)
        try:
            if cookies.get("anon_token"):
                tab.call(update_vars, {"vars": {f"{session}.anon_token": cookies["anon_token"]}}, path=path)
            for name, payload in events:
                tab.call(name, payload, path=path)
        finally:
            tab.close()
        return tab

    def visit_everything(cookies: dict[str, str], own_job: str | None) -> set[str]:
        job_page, variant_page = f"/job/{job.id}", f"/variant/{vids[0]}"
        tabs = [
            visit(
                job_page,
                [(f"{job_s}.on_load", {})]
                + [
                    (f"{job_s}.{name}", args)
                    for vid in vids[:2]
                    for name, args in (
                        ("ask_unlock", {"variant_id": vid}),
                        ("unlock", {"variant_id": vid}),
                        ("download", {"variant_id": vid, "kind": "full"}),
                    )
                ],
                cookies,
            ),
            visit(
                variant_page,
                [
                    (f"{variant_s}.on_load", {}),
                    (f"{variant_s}.ask_unlock", {}),
                    (f"{variant_s}.download", {"kind": "full"}),
                    (f"{variant_s}.download_zip", {}),
                ],
                cookies,
            ),
            visit("/gallery", [(f"{GalleryState.get_full_name()}.on_load", {})], cookies),
            visit("/dashboard", [(f"{DashboardState.get_full_name()}.on_load", {})], cookies),
            visit("/credits", [(f"{CreditsState.get_full_name()}.on_load", {})], cookies),
        ]
        if own_job:
            own_tab = visit(f"/job/{own_job}", [(f"{job_s}.on_load", {})], cookies)
            merged: dict = {}
            for d in own_tab.deltas:
                merged.update(d.get(job_s, {}))
            assert len(merged.get("variants_rx_state_", [])) == 4, "the visitor saw her own 4 previews"
            tabs.append(own_tab)
        return set().union(*(t.urls() for t in tabs))

    def cookie(tab: RecordingClient, name: str) -> str:
        merged: dict = {}
        for d in tab.deltas:
            merged.update(d.get(session, {}))
        return merged.get(f"{name}_rx_state_", "")

    # a visitor: gets a browser token, tries Alice's ids, then opens her own anonymous job
    first = visit("/", [(f"{session}.load_session", {})], {})
    anon = cookie(first, "anon_token")
    assert anon, "the visitor got a browser token"
    own = uploads.submit_photo(photo, user_id=None, anon_token=anon, enqueue=False)
    run_job(own.id)
    visitor_urls = visit_everything({"anon_token": anon}, own.id) | first.urls()

    # another user: signed in, pokes at Alice's job and variants
    with (
        session_scope() as s
    ):  # his sign-in session, as the sign-in page makes it (tests/unit cover that page)
        bob_cookie = auth.start_session(s, user_id=bob)
    hello = visit("/", [(f"{session}.load_session", {})], {"session": bob_cookie})
    assert cookie(hello, "user_email") == "bob@example.com", "Bob is signed in"
    bob_urls = visit_everything({"session": bob_cookie}, None) | hello.urls()

    given = visitor_urls | bob_urls
    images, problems = _check_pixels(backend, given, photo)
    print(f"visitor URLs {len(visitor_urls)}, other user's URLs {len(bob_urls)}, images fetched {images}")
    assert problems == []
    assert images >= 4  # the visitor's own previews were checked, not nothing
    files = [u for u in given if "/files/" in u or "/dl/" in u]
    assert not [u for u in bob_urls if job.id in u and u in files]  # Bob got no file of Alice's at all
    assert not [u for u in files if "clean" in u or "full" in u or "crop" in u]

    # control: the same check does flag a clean image (Alice's own, paid for)
    control_url = get_storage().url(clean_preview, expires_in=600)
    _, flagged = _check_pixels(backend, {control_url}, photo)
    assert flagged == [f"un-watermarked pixels: {control_url}"]
