"""Daily free photos fair to salons: per browser first, a higher per-IP cap, the reset time in words."""

from __future__ import annotations

import pytest

from lashme import i18n
from lashme.accounts import daily_limits
from lashme.app import admin
from lashme.app.admin import pricing as admin_pricing
from lashme.credits import pricing
from lashme.errors import DomainError
from lashme.models import PriceSetting
from lashme.ops.db import session_scope

SALON_IP = "198.51.100.23"


def _try(token: str, *, limit: int = 3, ip_limit: int = 5) -> bool:
    try:
        daily_limits.consume(
            user_id=None, anon_token=token, client_ip=SALON_IP, limit=limit, ip_limit=ip_limit
        )
    except daily_limits.DailyLimitReached:
        return False
    return True


def test_each_browser_gets_its_own_tries_until_the_salons_ip_cap(clean_db, redis_conn):
    assert [_try("anna") for _ in range(4)] == [True, True, True, False]  # per browser first
    assert [_try("olga") for _ in range(3)] == [True, True, False]  # the shared Wi-Fi's cap (5) ends it
    with pytest.raises(daily_limits.DailyLimitReached) as refused:
        daily_limits.consume(user_id=None, anon_token="kate", client_ip=SALON_IP, limit=3, ip_limit=5)
    assert refused.value.params["limit"] == 5  # the message names the limit that ran out
    # another IP is another salon
    assert daily_limits.consume(user_id=None, anon_token="kate", client_ip="203.0.113.9", limit=3, ip_limit=5)


def test_a_race_lost_on_the_ip_cap_gives_the_browsers_count_back(clean_db, redis_conn, monkeypatch):
    """Both counters passed the read-only test, then a parallel upload took the IP's last job."""
    assert [_try("anna") for _ in range(3)] + [_try("olga") for _ in range(2)] == [True] * 5  # IP: 5 of 5
    monkeypatch.setattr(daily_limits.FixedWindowRateLimiter, "test", lambda *a, **kw: True)  # the race
    assert not _try("kate")
    monkeypatch.undo()

    def used(token: str | None, ip: str | None) -> int:
        return daily_limits.usage(user_id=None, anon_token=token, client_ip=ip, limit=3, ip_limit=5).used

    assert used("kate", None) == 0  # her browser keeps its 3
    assert used(None, SALON_IP) == 5  # the refused hit did not push the IP's count past its cap
    assert not _try("kate")  # still the salon's cap
    assert daily_limits.consume(user_id=None, anon_token="kate", client_ip="203.0.113.9", limit=3, ip_limit=5)


def test_the_ip_cap_is_never_below_the_browser_limit(clean_db, redis_conn):
    assert [_try("solo", limit=3, ip_limit=1) for _ in range(4)] == [True, True, True, False]


def test_the_reset_time_is_said_in_the_readers_language():
    err = daily_limits.refusal(3, reset_at=10_000 + 4 * 3600 + 49 * 60 - 20, now=10_000)
    assert i18n.error_text(err, "ru").endswith("Лимит обновится через 4 ч 49 мин.")
    assert i18n.error_text(err, "en").endswith("The limit resets in 4 hr 49 min.")
    assert "UTC" not in i18n.error_text(err, "ru")
    soon = daily_limits.refusal(3, reset_at=10_030, now=10_000)
    assert i18n.error_text(soon, "ru").endswith("через 1 мин.")


def test_the_reset_time_is_also_said_on_the_readers_clock():
    midnight_utc = 1_796_256_000  # 2026-12-03 00:00 UTC
    err = daily_limits.refusal(3, reset_at=midnight_utc, now=midnight_utc - (4 * 3600 + 49 * 60 - 20))
    moscow = i18n.error_text(err, "ru", time_zone="Europe/Moscow")
    assert moscow.endswith("Лимит обновится в 03:00 (через 4 ч 49 мин)."), moscow
    assert i18n.error_text(err, "en", time_zone="America/New_York").endswith(
        "The limit resets at 7:00\u202fPM (in 4 hr 49 min)."
    )
    assert i18n.error_text(err, "ru", time_zone="UTC").endswith("в 00:00 (через 4 ч 49 мин).")
    # a browser's value is input: an unknown zone says the duration only
    for bad in ("Mars/Olympus", "../../etc/passwd", "", "x" * 500):
        assert i18n.error_text(err, "ru", time_zone=bad).endswith("Лимит обновится через 4 ч 49 мин.")


def test_the_ip_cap_is_a_price_setting_admins_can_change(staff):
    with session_scope() as s:
        assert pricing.get_prices(s).daily_limit_anon_ip == 15  # seeded by migration 0012
        assert s.get(PriceSetting, "daily_limit_anon_ip").updated_by == "migration"
    assert "daily_limit_anon_ip" in admin.PRICE_KEYS
    row = admin.run(_admin(staff), admin_pricing.set_price, "daily_limit_anon_ip", "40")
    assert row.value == 40
    with pytest.raises(DomainError):
        admin.run(_admin(staff), admin_pricing.set_price, "daily_limit_anon_ip", "-1")
    with session_scope() as s:
        assert pricing.get_prices(s).daily_limit_anon_ip == 40
    assert (
        i18n.translate("admin.pricing.key.daily_limit_anon_ip", "ru")
        == "Бесплатных фото в день на IP (гости)"
    )


def _admin(staff):
    from lashme.app.caller import Caller

    return Caller(user_id=staff["admin"], anon_token=None, roles=frozenset({"admin"}), locale="en", ip=None)


def test_the_upload_page_learns_the_browsers_time_zone_once_and_the_refusal_uses_it():
    import lashme.lashme  # noqa: F401 - registers the app's states
    from lashme.ui.pages.upload import UploadState
    from tests.integration.app.test_handlers import _state

    st = _state(UploadState, anon="visitor-1", locale="ru")
    asked = UploadState.learn_time_zone.fn(st)
    assert "resolvedOptions().timeZone" in str(asked)  # the browser is asked (rx.call_script)
    for bad in ("Mars/Olympus", "../../etc/passwd", "<script>", ""):
        UploadState.remember_time_zone.fn(st, bad)
        assert st.time_zone == ""
    UploadState.remember_time_zone.fn(st, "Europe/Moscow")
    assert st.time_zone == "Europe/Moscow" and UploadState.learn_time_zone.fn(st) is None  # known: not asked
    midnight_utc = 1_796_256_000
    err = daily_limits.refusal(3, reset_at=midnight_utc, now=midnight_utc - 600)
    assert st._err(err).endswith("Лимит обновится в 03:00 (через 10 мин).")


#: the use-cases the daily limit may refuse, as the page modules call them
_REFUSABLE = ("app_upload.submit_photo", "app_job.retry")


def test_every_page_that_can_be_refused_for_the_daily_limit_learns_the_time_zone():
    """Not only "/": a retry refused on the dashboard or the job page says the reset on her clock too."""
    import importlib
    import inspect

    import lashme.lashme as web
    from lashme.ui.pages.dashboard import DashboardState
    from lashme.ui.pages.job import JobState
    from lashme.ui.state import SessionState
    from tests.integration.app.test_handlers import _state

    def may_refuse(handlers) -> bool:
        sources = {inspect.getsource(importlib.import_module(h.fn.__module__)) for h in handlers}
        return any(call in src for src in sources for call in _REFUSABLE)

    learns = SessionState.learn_time_zone.fn
    pages = {route: list(handlers) for route, handlers in web.app._load_events.items()}
    refusing = {route for route, handlers in pages.items() if may_refuse(handlers)}
    assert {"index", "upload", "job/[job_id]", "dashboard"} <= refusing
    for route in refusing:
        assert any(h.fn is learns for h in pages[route]), f"/{route} does not learn the time zone"

    for cls in (DashboardState, JobState):  # the handler, run on those pages' states
        st = _state(cls, anon="visitor-2", locale="ru")
        assert "resolvedOptions().timeZone" in str(learns(st))
        cls.remember_time_zone.fn(st, "Mars/Olympus")  # still checked with zoneinfo
        assert st.time_zone == ""
        cls.remember_time_zone.fn(st, "Asia/Yekaterinburg")
        assert st.time_zone == "Asia/Yekaterinburg" and learns(st) is None
        midnight_utc = 1_796_256_000
        err = daily_limits.refusal(3, reset_at=midnight_utc, now=midnight_utc - 600)
        assert st._err(err).endswith("Лимит обновится в 05:00 (через 10 мин).")
