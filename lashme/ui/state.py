"""Session state shared by every page: who the caller is, their balance, the anonymous token, the language.

Cookies hold only the caller's own bearer tokens.  Every handler that acts
for a user gets a :class:`~lashme.app.caller.Caller` from ``_caller()`` (or runs a
use-case through ``_call``), which re-reads the sign-in session from the
database; nothing trusts a state var the client could have set.

The sign-in session is an HttpOnly cookie set and cleared only by the HTTP routes of
:mod:`lashme.ui.web_auth` (sign-in, sign-up, password reset, sign-out): page scripts cannot
read it and no state var holds it.  A handler takes the token from the ``Cookie`` header of
this tab's websocket handshake (``_session_token``), which Reflex keeps on the server for the
connection (its serializer drops ``cookie`` from what reaches the page).  Those routes end in
a full page load, so the new websocket carries the new cookie; a reconnect (network blip,
server restart) sends a new handshake with whatever cookie the browser holds then.  Handlers call
only ``lashme.app`` use-cases; ``_call`` turns a refused one into a toast.

Language: ``locale`` is a cookie (remembered per browser) and, for a
signed-in user, ``users.locale`` (remembered per user, wins over the cookie);
with neither, the browser's ``Accept-Language`` decides, else Russian.  Page text is
compiled once at build time, so translated text reaches the page through the
cached computed var ``t`` (every catalog message of the current locale, a few kB),
recomputed only when ``locale`` changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import reflex as rx
from starlette.requests import cookie_parser

from lashme import i18n
from lashme.app import account
from lashme.app import session as app_session
from lashme.app.caller import Caller
from lashme.errors import DomainError

T = TypeVar("T")

#: page script of the sign-out button: the HTTP route clears the HttpOnly cookie, then a full page
#: load gives the tab a websocket without it (the session already ended on the server)
SIGN_OUT_SCRIPT = (
    'fetch("/auth/sign-out", {method: "POST", credentials: "same-origin", headers: {Accept: "application/json"}})'
    '.catch(() => null).finally(() => window.location.assign("/"))'
)


class SessionState(rx.State):
    """Auth and balance for the header; base class of the page states."""

    anon_token: str = rx.Cookie("", name="lashme_anon", max_age=365 * 86400, same_site="lax")
    locale: str = rx.Cookie("", name="lashme_locale", max_age=365 * 86400, same_site="lax")
    #: the browser's IANA time zone (read once by :meth:`ask_time_zone`, checked with zoneinfo):
    #: the daily limit's reset is also said on the reader's clock ("в 03:00 (через 4 ч 49 мин)")
    time_zone: str = rx.Cookie("", name="lashme_tz", max_age=30 * 86400, same_site="lax")
    user_email: str = ""
    balance: int = 0
    held: int = 0
    unlock_cost: int = 1
    signup_bonus: int = 3
    #: shows the header's Admin link; a display hint only, every admin handler re-checks the role
    is_staff: bool = False
    #: True once this tab's session was read on the server (``load_session``): until then the
    #: header shows no signed-in parts and no admin link, only a neutral skeleton (``layout.header``)
    session_known: bool = False

    @rx.var
    def signed_in(self) -> bool:
        """True while a user is signed in (as last checked on the server)."""
        return self.user_email != ""

    @rx.var
    def t(self) -> dict[str, str]:
        """Every UI message in the current locale (``{key: text}``)."""
        return i18n.catalog(i18n.normalize(self.locale) or i18n.DEFAULT_LOCALE)

    @rx.var
    def balance_unit(self) -> str:
        """The unit after the balance, pluralized for the language (3 → "кредита", 5 → "кредитов")."""
        return i18n.translate_plural("plural.credits_unit", self.balance, self.locale)

    @rx.var
    def unlock_label(self) -> str:
        """The unlock button's text with the current price ("Unlock · 1 credit")."""
        price = i18n.translate_plural("plural.credits", self.unlock_cost, self.locale)
        return i18n.translate("job.unlock", self.locale, price=price)

    @rx.var
    def signup_pitch(self) -> str:
        """The job page's call to sign up, with the current sign-up bonus."""
        bonus = i18n.translate_plural("plural.free_credits", self.signup_bonus, self.locale)
        return i18n.translate("job.cta", self.locale, bonus=bonus)

    @rx.var
    def signup_subtitle(self) -> str:
        """The sign-up page's subtitle, with the current sign-up bonus."""
        bonus = i18n.translate_plural("plural.free_credits", self.signup_bonus, self.locale)
        return i18n.translate("auth.signup_subtitle", self.locale, bonus=bonus)

    @rx.var
    def lang(self) -> str:
        """The current UI language code (``en`` or ``ru``)."""
        return i18n.normalize(self.locale) or i18n.DEFAULT_LOCALE

    def _tr(self, key: str, **params: object) -> str:
        """``key`` translated into the caller's language."""
        return i18n.translate(key, self.locale, **params)

    def _err(self, exc: Exception) -> str:
        """A domain error's message in the caller's language (and time zone, when known)."""
        return i18n.error_text(exc, self.locale, time_zone=self.time_zone or None)

    def ask_time_zone(self) -> Any:
        """An event that reads the browser's time zone into :attr:`time_zone` once (None when known)."""
        if self.time_zone:
            return None
        return rx.call_script(
            "Intl.DateTimeFormat().resolvedOptions().timeZone", callback=SessionState.remember_time_zone
        )

    @rx.event
    def learn_time_zone(self):
        """on_load of every page that can refuse a job for the daily limit: learn the time zone once.

        The refusal says when the limit resets on the reader's clock ("в 03:00"), so each page
        whose handlers upload or retry (``lashme.lashme`` lists them) asks the browser on load
        (:meth:`ask_time_zone`; nothing is asked once the cookie holds a zone).
        """
        return self.ask_time_zone()

    @rx.event
    def remember_time_zone(self, name: str):
        """Keep the browser's time zone if it is a real IANA zone (browser input: checked here)."""
        name = str(name or "").strip()[:64]
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            name = ""
        self.time_zone = name

    def _session_token(self) -> str:
        """The sign-in token from the ``Cookie`` header of this tab's websocket handshake ("" without one).

        The header is the server's copy of the handshake request (``router.headers``, filled by
        Reflex from the connection, never from the event's payload), so a page cannot forge it.
        """
        try:
            header = self.router.headers.cookie
        except AttributeError:
            return ""
        return cookie_parser(header or "").get(app_session.SESSION_COOKIE, "")[:128]

    def _credentials(self) -> dict[str, Any]:
        """What this tab presents to the application layer (read on the event loop, used in any thread)."""
        try:
            accept_language = self.router.headers.accept_language
        except AttributeError:
            accept_language = ""
        try:
            ip = self.router.session.client_ip or None
        except AttributeError:
            ip = None
        return {
            "auth_token": self._session_token(),
            "anon_token": self.anon_token or None,
            "locale": self.locale,
            "accept_language": accept_language,
            "ip": ip,
        }

    def _caller(self) -> Caller:
        """Who is asking, re-read from the database (the cookies are credentials, never trusted as facts)."""
        return app_session.caller_for(**self._credentials())

    def _ensure_anon(self) -> str:
        """This browser's visitor token, created on first use (256 bits)."""
        if not self.anon_token or len(self.anon_token) > 64:
            self.anon_token = app_session.new_visitor_token()
        return self.anon_token

    def _refresh_user(self) -> Caller:
        """Reload the caller, the header (email, balance, staff flag) and the prices; returns the caller."""
        info = app_session.load(**self._credentials())
        caller, header = info.caller, info.header
        self.locale = caller.locale
        self.session_known = True
        self.unlock_cost, self.signup_bonus = header.unlock_cost, header.signup_bonus
        if not caller.signed_in:
            if self.user_email:  # the sign-in session ended elsewhere: drop what this tab held
                self._forget_user()
            self.user_email, self.balance, self.held, self.is_staff = "", 0, 0, False
            return caller
        self.user_email, self.balance, self.held = header.email, header.available, header.held
        self.is_staff = header.is_staff
        return caller

    def _call(
        self, fn: Callable[..., T], /, *args: Any, caller: Caller | None = None, **kwargs: Any
    ) -> tuple[T | None, Any]:
        """Run the use-case ``fn(caller, *args, **kwargs)``; a refusal becomes a toast in the caller's language.

        Returns:
            ``(result, None)``, or ``(None, toast)`` when ``fn`` raised a
            :class:`~lashme.errors.DomainError` (return the toast from the handler).
        """
        try:
            return fn(caller or self._caller(), *args, **kwargs), None
        except DomainError as exc:
            return None, rx.toast.error(self._err(exc))

    async def _run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run the use-case ``fn(caller, *args, **kwargs)`` in a worker thread, the caller made there too.

        For use-cases that wait on the database, storage, Stripe or a provider.

        Raises:
            DomainError: whatever ``fn`` refused.
        """
        creds = self._credentials()
        return await asyncio.to_thread(lambda: fn(app_session.caller_for(**creds), *args, **kwargs))

    async def _call_async(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> tuple[T | None, Any]:
        """:meth:`_call` in a worker thread (see :meth:`_run`)."""
        try:
            return await self._run(fn, *args, **kwargs), None
        except DomainError as exc:
            return None, rx.toast.error(self._err(exc))

    def _forget_user(self) -> None:
        """Reset this tab's whole session state (every page's data) except the visitor token and language."""
        session = self
        while type(session) is not SessionState and session.parent_state is not None:
            session = session.parent_state
        anon, locale = session.anon_token, session.locale
        session.reset()
        session.anon_token, session.locale = anon, locale
        session.session_known = True  # signed out: known

    @rx.event
    def load_session(self):
        """on_load of every page: make sure of the anonymous token, refresh the header.

        When the session this tab's websocket presents has ended (signed out or signed in again
        in another tab: a new session id), the page reloads once, so its new websocket presents
        whatever cookie the browser holds now; the reloaded tab has no user left, so it never
        reloads twice.
        """
        self._ensure_anon()
        had_user = self.user_email != ""
        caller = self._refresh_user()
        if had_user and not caller.signed_in:
            return rx.call_script("window.location.reload()")
        return None

    @rx.event
    def sign_out(self):
        """End the sign-in session on the server and forget everything this tab held for the user.

        ``reset()`` also clears every page state below this one (gallery tiles,
        ledger rows, orders…), so the next person on a shared tablet sees none
        of it; only the browser token and the language stay.  The page then posts to
        ``/auth/sign-out``, which clears the HttpOnly cookie, and loads ``/`` afresh.
        """
        account.sign_out(self._session_token())
        self._forget_user()
        return rx.call_script(SIGN_OUT_SCRIPT)

    def _apply_language(self, code: str) -> bool:
        locale = app_session.set_language(self._caller(), code)
        if locale is None:
            return False
        self.locale = locale
        return True

    @rx.event
    def set_language(self, code: str):
        """Switch the UI language (``en``/``ru``); remembered in a cookie and, when signed in, on the account."""
        self._apply_language(code)

    @rx.event
    def toggle_language(self):
        """Switch between English and Russian, then reload so server-made text (dates, labels) follows."""
        self._apply_language("en" if self.lang == "ru" else "ru")
        return rx.call_script("window.location.reload()")
