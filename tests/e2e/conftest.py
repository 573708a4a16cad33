"""The running app (launcher: migrations, worker, Reflex prod build) and Debian Chromium."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture(scope="session")
def stripe_standin():
    """The Stripe stand-in the app under test talks to (webhooks go to the app's backend)."""
    from tests.fakes.stripe_server import StripeStandIn

    with StripeStandIn() as standin:
        yield standin


@pytest.fixture(scope="session")
def mailbox(tmp_path_factory):
    """A real SMTP server on loopback (STARTTLS, AUTH) the app under test sends its account mail to."""
    from tests.fakes.smtp_mailbox import SmtpMailbox

    with SmtpMailbox(tmp_path_factory.mktemp("smtp")) as box:
        yield box


@pytest.fixture(scope="session")
def oidc_provider():
    """A real OpenID provider on loopback that the app under test uses as "Google"."""
    from tests.fakes.oidc_provider import OidcProvider

    with OidcProvider() as provider:
        yield provider


@pytest.fixture(scope="session")
def app_url(app_stack):
    """The base URL of the running app."""
    return app_stack.url


@pytest.fixture(autouse=True)
def _fresh_app_throttles(request):
    """Each browser test starts with the app's throttle counters at zero, as tests/conftest.py does for its own.

    The app under test has a Redis of its own, and every browser comes from 127.0.0.1: without
    this, the sign-up limit per IP (3 an hour) would refuse the fourth sign-up of the whole run.
    """
    own = request.getfixturevalue("app_stack").redis if "app_url" in request.fixturenames else None
    if own is not None:
        import redis

        from lashme.accounts.throttle import NAMESPACE

        r = redis.Redis.from_url(own.url)
        for key in r.scan_iter(match=f"*{NAMESPACE}*"):
            r.delete(key)
        r.close()
    yield


@pytest.fixture(scope="session")
def app_stack(tmp_path_factory, stripe_standin, mailbox, oidc_provider):
    """The running app (:func:`lashme.ops.launcher.start_stack`): its ``url`` and its own ``redis``."""
    from lashme.ops.launcher import start_stack
    from lashme.ops.redis_server import free_port
    from tests.fakes.stripe_server import API_KEY, WEBHOOK_SECRET

    logs = tmp_path_factory.mktemp("app-logs")
    root = Path(__file__).resolve().parents[2]
    port = free_port()
    env = dict(os.environ)
    env.pop("REDIS_URL")  # the app and its worker get a Redis of their own, as on a fresh machine
    env.update(
        STRIPE_SECRET_KEY=API_KEY,
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        STRIPE_API_BASE=stripe_standin.base_url,
        **mailbox.env(),  # account mail (verification, password reset) over SMTP
        **oidc_provider.env(),  # "Sign in with Google"
    )
    stripe_standin.webhook_url = f"http://127.0.0.1:{port}/stripe/webhook"
    from lashme.credits import pricing
    from lashme.ops.db import session_scope

    with session_scope() as s:  # every browser test uploads from 127.0.0.1: lift the visitors' daily limit
        pricing.set_price(s, "daily_limit_anon", 1000, actor="e2e")
    stack = start_stack(
        port=port,
        host="127.0.0.1",
        workers=1,
        env=env,
        log_dir=logs,
        web_dir=Path(os.environ.get("LASHME_E2E_WEB_DIR", root / ".web-test")),  # parallel runs: one each
    )
    yield stack
    stack.stop()
    for f in Path(logs).glob("*.log"):
        text = f.read_text(errors="replace")
        if "Traceback" in text:
            print(f"--- {f.name} ---\n{text[-4000:]}")


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM} (scripts/test installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()
