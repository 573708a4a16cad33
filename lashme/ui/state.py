"""Session state shared by every page: who the caller is, their balance, the anonymous token.

Cookies hold only the caller's own bearer tokens.  Every handler that acts
for a user calls ``_user_id()``, which re-reads the sign-in session from the
database; nothing trusts a state var the client could have set.
"""

from __future__ import annotations

import secrets

import reflex as rx

from lashme import auth, ledger
from lashme.db import session_scope

SESSION_COOKIE_DAYS = 30


class SessionState(rx.State):
    """Auth and balance for the header; base class of the page states."""

    auth_token: str = rx.Cookie(
        "", name="lashme_session", max_age=SESSION_COOKIE_DAYS * 86400, same_site="lax"
    )
    anon_token: str = rx.Cookie("", name="lashme_anon", max_age=365 * 86400, same_site="lax")
    user_email: str = ""
    balance: int = 0
    held: int = 0

    @rx.var
    def signed_in(self) -> bool:
        """True while a user is signed in (as last checked on the server)."""
        return self.user_email != ""

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
        """Reload email and balance from the database; returns the user id."""
        with session_scope() as s:
            user = auth.user_for_token(s, self.auth_token)
            if user is None:
                self.user_email, self.balance, self.held = "", 0, 0
                return None
            bal = ledger.get_balance(s, user.id)
            self.user_email, self.balance, self.held = user.email, bal.available, bal.held
            return user.id

    @rx.event
    def load_session(self):
        """on_load of every page: make sure of the anonymous token, refresh the header."""
        self._ensure_anon()
        self._refresh_user()

    @rx.event
    def sign_out(self):
        """End the sign-in session on the server and forget the token."""
        with session_scope() as s:
            auth.end_session(s, self.auth_token)
        self.auth_token = ""
        self.user_email, self.balance, self.held = "", 0, 0
        return rx.redirect("/")
