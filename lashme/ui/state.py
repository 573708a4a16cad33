"""Session state shared by every page: who the caller is, their balance, the anonymous token, the language.

Cookies hold only the caller's own bearer tokens.  Every handler that acts
for a user calls ``_user_id()``, which re-reads the sign-in session from the
database; nothing trusts a state var the client could have set.

Language: ``locale`` is a cookie (remembered per browser) and, for a
signed-in user, ``users.locale`` (remembered per user, wins over the cookie);
with neither, the browser's ``Accept-Language`` decides.  Page text is
compiled once at build time, so translated text reaches the page through the
cached computed var ``t`` (every catalog message of the current locale, a few kB),
recomputed only when ``locale`` changes.
"""

from __future__ import annotations

import secrets

import reflex as rx

from lashme import i18n
from lashme.accounts import auth, roles
from lashme.credits import ledger, pricing
from lashme.models import User
from lashme.ops.db import session_scope

SESSION_COOKIE_DAYS = 30


class SessionState(rx.State):
    """Auth and balance for the header; base class of the page states."""

    auth_token: str = rx.Cookie(
        "", name="lashme_session", max_age=SESSION_COOKIE_DAYS * 86400, same_site="lax"
    )
    anon_token: str = rx.Cookie("", name="lashme_anon", max_age=365 * 86400, same_site="lax")
    locale: str = rx.Cookie("", name="lashme_locale", max_age=365 * 86400, same_site="lax")
    user_email: str = ""
    balance: int = 0
    held: int = 0
    unlock_cost: int = 1
    signup_bonus: int = 3
    #: shows the header's Admin link; a display hint only, every admin handler re-checks the role
    is_staff: bool = False

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
        """A domain error's message in the caller's language."""
        return i18n.error_text(exc, self.locale)

    def _resolve_locale(self, user: User | None) -> None:
        """The user's saved language, else this browser's cookie, else its ``Accept-Language``."""
        saved = i18n.normalize(user.locale) if user is not None else None
        if saved:
            self.locale = saved
        elif not i18n.normalize(self.locale):
            try:
                header = self.router.headers.accept_language
            except AttributeError:
                header = ""
            self.locale = i18n.negotiate(header)

    def _user_id(self) -> int | None:
        """The signed-in user's id, re-checked in the database; None for visitors."""
        with session_scope() as s:
            user = auth.user_for_token(s, self.auth_token)
            return user.id if user else None

    def _ensure_anon(self) -> str:
        """This browser's anonymous token, created on first use (256 bits)."""
        if not self.anon_token or len(self.anon_token) > 64:
            self.anon_token = secrets.token_urlsafe(32)
        return self.anon_token

    def _refresh_user(self) -> int | None:
        """Reload email, balance and the current prices from the database; returns the user id."""
        with session_scope() as s:
            user = auth.user_for_token(s, self.auth_token)
            self._resolve_locale(user)
            prices = pricing.get_prices(s)
            self.unlock_cost, self.signup_bonus = prices.unlock_cost, prices.signup_bonus
            if user is None:
                if self.user_email:  # the sign-in session ended elsewhere: drop what this tab held
                    self._forget_user()
                self.user_email, self.balance, self.held, self.is_staff = "", 0, 0, False
                return None
            bal = ledger.get_balance(s, user.id)
            self.user_email, self.balance, self.held = user.email, bal.available, bal.held
            self.is_staff = roles.is_staff(s, user.id)
            return user.id

    def _forget_user(self) -> None:
        """Reset this tab's whole session state (every page's data) except the visitor token and language."""
        session = self
        while type(session) is not SessionState and session.parent_state is not None:
            session = session.parent_state
        anon, locale = session.anon_token, session.locale
        session.reset()
        session.auth_token = ""
        session.anon_token, session.locale = anon, locale

    @rx.event
    def load_session(self):
        """on_load of every page: make sure of the anonymous token, refresh the header."""
        self._ensure_anon()
        self._refresh_user()

    @rx.event
    def sign_out(self):
        """End the sign-in session on the server and forget everything this tab held for the user.

        ``reset()`` also clears every page state below this one (gallery tiles,
        ledger rows, orders…), so the next person on a shared tablet sees none
        of it; only the browser token and the language stay.
        """
        with session_scope() as s:
            auth.end_session(s, self.auth_token)
        self._forget_user()
        return rx.redirect("/")

    def _apply_language(self, code: str) -> bool:
        locale = i18n.normalize(str(code)[:8])
        if locale is None:
            return False
        self.locale = locale
        with session_scope() as s:
            user = auth.user_for_token(s, self.auth_token)
            if user is not None:
                user.locale = locale
                s.add(user)
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
