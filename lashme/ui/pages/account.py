"""``/account``: the signed-in master's REST API access tokens (create, see once, revoke).

The token's secret reaches this tab's state only in the event that created it and is
cleared on the next load; the list shows names, prefixes and scopes, never secrets.
"""

from __future__ import annotations

import reflex as rx

from lashme import i18n
from lashme.app import api_tokens
from lashme.ui.i18n import tr
from lashme.ui.layout import page_shell
from lashme.ui.state import SessionState


class AccountState(SessionState):
    """The caller's own tokens; nothing here belongs to anyone else."""

    tokens: list[dict] = []
    new_secret: str = ""
    form_key: int = 0

    def _reload(self, caller=None) -> None:
        rows, refused = self._call(api_tokens.list_mine, caller=caller)
        if refused is not None:
            self.tokens = []
            return
        loc = self.lang
        self.tokens = [
            {
                "id": t.id,
                "name": t.name,
                "prefix": t.prefix + "…",
                "scope": self._tr("account.scope_write" if "write" in t.scopes else "account.scope_read"),
                "created": i18n.format_dt(t.created_at, loc, fmt="short"),
                "used": i18n.format_dt(t.last_used_at, loc, fmt="short") if t.last_used_at else "—",
                "revoked": t.revoked,
            }
            for t in rows
        ]

    @rx.event
    def on_load(self):
        """Signed-in masters only; visitors go to the sign-in page."""
        self._ensure_anon()
        self.new_secret = ""
        caller = self._refresh_user()
        if not caller.signed_in:
            self.tokens = []
            return rx.redirect("/login?next=/account")
        self._reload(caller)

    @rx.event
    def create_token(self, form: dict):
        """Create a token from the form (``name``, ``write``); its secret is shown once."""
        name = str(form.get("name", ""))[:80]
        write = str(form.get("write", "")).lower() in ("on", "true", "1")
        token, refused = self._call(api_tokens.create, name=name, write=write)
        if refused is not None:
            return refused
        self.new_secret = token.secret or ""
        self.form_key += 1
        self._reload()
        return rx.toast.success(self._tr("account.token_created"))

    @rx.event
    def revoke(self, token_id: int):
        """Revoke one of the caller's tokens."""
        _, refused = self._call(api_tokens.revoke, token_id)
        if refused is not None:
            return refused
        self._reload()
        return rx.toast.success(self._tr("account.token_revoked"))


def _token_row(t: dict) -> rx.Component:
    return rx.card(
        rx.hstack(
            rx.vstack(
                rx.text(t["name"], weight="bold"),
                rx.text(t["prefix"], " · ", t["scope"], size="2", color_scheme="gray"),
                rx.text(
                    tr("account.created"),
                    " ",
                    t["created"],
                    " · ",
                    tr("account.used"),
                    " ",
                    t["used"],
                    size="1",
                ),
                spacing="1",
                min_width="0",
            ),
            rx.spacer(),
            rx.cond(
                t["revoked"],
                rx.badge(tr("account.revoked"), color_scheme="gray"),
                rx.button(
                    tr("account.revoke"),
                    on_click=AccountState.revoke(t["id"]),
                    variant="soft",
                    color_scheme="red",
                    min_height="44px",
                ),
            ),
            align="center",
            width="100%",
        ),
        width="100%",
    )


def account_page() -> rx.Component:
    """Access tokens for the REST API."""
    return page_shell(
        rx.heading(tr("account.title"), size="7"),
        rx.text(tr("account.api_intro"), color_scheme="gray"),
        rx.link(tr("account.api_docs"), href="/api/v1/docs", is_external=True),
        rx.form(
            rx.vstack(
                rx.el.label(tr("account.token_name"), html_for="token-name"),
                rx.input(name="name", id="token-name", max_length=64, required=True, width="100%", size="3"),
                rx.el.label(
                    rx.hstack(
                        rx.checkbox(name="write", id="token-write"), rx.text(tr("account.token_write"))
                    ),
                    html_for="token-write",
                ),
                rx.button(tr("account.create_token"), type="submit", size="3", min_height="44px"),
                spacing="2",
                width="100%",
            ),
            key=AccountState.form_key.to_string(),
            on_submit=AccountState.create_token,
            reset_on_submit=True,
            width="100%",
        ),
        rx.cond(
            AccountState.new_secret != "",
            rx.callout(
                rx.vstack(
                    rx.text(tr("account.copy_now")),
                    rx.code(AccountState.new_secret, id="new-token", word_break="break-all"),
                ),
                icon="key",
                color_scheme="amber",
                width="100%",
            ),
        ),
        rx.vstack(rx.foreach(AccountState.tokens, _token_row), spacing="2", width="100%", id="token-list"),
    )
