"""``/account`` handlers: tokens are the caller's own, the secret is shown once, visitors are sent to sign in."""

from __future__ import annotations

import lashme.lashme  # noqa: F401 - registers the app's states
from lashme.app import api_tokens
from lashme.app.caller import from_verified_user
from lashme.ui.pages.account import AccountState
from tests.integration.app.test_handlers import _spec_text, _state


def test_visitor_is_sent_to_sign_in_and_sees_no_tokens(world):
    visitor = _state(AccountState, anon="v")
    assert "/login" in _spec_text(AccountState.on_load.fn(visitor))
    assert visitor.tokens == [] and visitor.new_secret == ""
    out = AccountState.create_token.fn(visitor, {"name": "x", "write": "on"})
    assert "Sign in" in _spec_text(out) or "sign in" in _spec_text(out).lower()
    assert api_tokens.list_mine(from_verified_user(world["alice"])) == []


def test_create_shows_the_secret_once_and_revoke_is_owner_only(world):
    alice = _state(AccountState, token=world["alice_token"])
    AccountState.on_load.fn(alice)
    AccountState.create_token.fn(alice, {"name": "Telegram bot", "write": "on"})
    assert alice.new_secret.startswith("lm_")
    (row,) = alice.tokens
    assert row["name"] == "Telegram bot" and alice.new_secret not in repr(alice.tokens)
    AccountState.on_load.fn(alice)
    assert alice.new_secret == ""  # shown once
    bob = _state(AccountState, token=world["bob_token"])
    AccountState.on_load.fn(bob)
    assert bob.tokens == []
    out = AccountState.revoke.fn(bob, row["id"])
    assert "No such token" in _spec_text(out)
    assert alice.tokens[0]["revoked"] is False
    AccountState.revoke.fn(alice, row["id"])
    assert alice.tokens[0]["revoked"] is True
