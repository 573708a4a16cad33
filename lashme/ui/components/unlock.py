"""The paid moment on every page that offers an unlock: the price on the button, a confirmation, the toast.

A page state that offers unlocks (the job page, the variant page) mixes in :class:`UnlockMixin`,
which keeps these vars:

- ``confirm_vid`` — the variant whose confirmation is open ("" = closed);
- ``confirm_enough`` — the balance covers the price (else the dialog offers the packs);
- ``confirm_text`` / ``confirm_ok`` / ``confirm_packs`` / ``confirm_buy_href`` — texts made on the server
  by :func:`confirmation` from :func:`lashme.app.variant.quote`;
- ``unlocking`` — the variant being unlocked right now (its buttons are disabled: no double spend by a
  double tap; the ledger is idempotent by (user, variant) anyway).

The page's ``ask_unlock`` handler fills them (:meth:`UnlockMixin._open_confirmation`), its
``confirm_unlock`` spends (:meth:`UnlockMixin._take_confirmed` first), ``close_unlock`` closes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import reflex as rx

from lashme import i18n
from lashme.app import variant as app_variant
from lashme.app.caller import Caller
from lashme.errors import DomainError
from lashme.ui.i18n import tr

T = TypeVar("T")


def unlock_then(
    caller: Caller, variant_id: str, reread: Callable[..., T], *reread_args: Any
) -> tuple[app_variant.Unlocked, T | None]:
    """Unlock ``variant_id`` for ``caller``, then re-read the page's view with ``reread(caller, *reread_args)``.

    Both run in one worker-thread hop, so the clean image comes in the same state update as the new
    balance.  The view is None when it is gone meanwhile (``reread`` raised a domain error).

    Raises:
        DomainError: whatever :func:`lashme.app.variant.unlock` refused (nothing was spent).
    """
    result = app_variant.unlock(caller, variant_id)
    try:
        return result, reread(caller, *reread_args)
    except DomainError:
        return result, None


class UnlockMixin(rx.State, mixin=True):
    """The unlock confirmation's state and handlers, shared by the job and variant pages.

    Mixed into a :class:`lashme.ui.state.SessionState` subclass (it uses ``unlock_cost``,
    ``lang`` and ``_call``): ``class JobState(UnlockMixin, SessionState)``.  The vars are
    described in the module docstring; the page's own ``ask_unlock`` / ``confirm_unlock``
    handlers authenticate the caller and call :meth:`_open_confirmation` /
    :meth:`_take_confirmed`.
    """

    confirm_vid: str = ""
    confirm_enough: bool = True
    confirm_text: str = ""
    confirm_ok: str = ""
    confirm_packs: str = ""
    confirm_buy_href: str = "/credits"
    unlocking: str = ""

    @rx.var
    def unlock_button(self) -> str:
        """The unlock button's text with the current price ("Unlock full size · 1 credit")."""
        return unlock_label(self.unlock_cost, self.lang)

    @rx.event
    def close_unlock(self):
        """Close the confirmation without spending."""
        self.confirm_vid = ""

    def _open_confirmation(self, variant_id: str, caller) -> tuple[app_variant.UnlockQuote | None, Any]:
        """Quote ``variant_id`` for the signed-in ``caller`` and open the dialog (nothing is spent).

        Returns:
            ``(quote, None)``: the dialog is open, or ``quote.unlocked`` (paid before: the page
            unlocks again for free, no dialog); ``(None, refusal_event)`` when the quote is refused.
        """
        quote, refused = self._call(app_variant.quote, str(variant_id)[:32], caller=caller)
        if refused is not None:
            return None, refused
        if not quote.unlocked:
            for name, value in confirmation(quote, self.lang).items():
                setattr(self, name, value)
        return quote, None

    def _take_confirmed(self) -> str:
        """The variant the open dialog confirms, closing the dialog; "" when there is nothing to spend.

        A second tap of a double tap finds the dialog closed (or an unlock in flight) and gets "".
        """
        vid = self.confirm_vid
        if not vid or self.unlocking or not self.confirm_enough:
            return ""
        self.confirm_vid = ""
        return vid


def unlock_label(cost: int, locale: str) -> str:
    """The unlock button's text: ``"Открыть в полном размере · 1 кредит"`` / ``"Unlock full size · 1 credit"``."""
    return i18n.translate_plural("paid.unlock_button", cost, locale)


def confirmation(quote: app_variant.UnlockQuote, locale: str) -> dict[str, Any]:
    """The dialog's vars for ``quote`` (see the module docstring), in ``locale``."""
    cost = i18n.translate_plural("plural.credits", quote.cost, locale)
    packs = (
        i18n.translate(
            "paid.packs_from", locale, price=i18n.format_money(quote.cheapest_cents, quote.currency, locale)
        )
        if quote.cheapest_cents and quote.currency
        else ""
    )
    if quote.enough:
        text = i18n.translate(
            "paid.confirm_text",
            locale,
            cost=cost,
            after=i18n.translate_plural("plural.credits", quote.after, locale),
        )
    else:
        text = i18n.translate(
            "paid.no_credits_text",
            locale,
            balance=i18n.translate_plural("plural.credits", quote.available, locale),
            cost=cost,
        )
    return {
        "confirm_vid": quote.variant_id,
        "confirm_enough": quote.enough,
        "confirm_text": text,
        "confirm_ok": i18n.translate("paid.confirm_ok", locale, cost=cost),
        "confirm_packs": packs,
        "confirm_buy_href": f"/credits?next=/variant/{quote.variant_id}",
    }


def unlocked_toast(result: app_variant.Unlocked, locale: str) -> str:
    """``"Открыто · осталось 2 кредита"`` / ``"Unlocked · 2 credits left"`` (already unlocked: no charge)."""
    if not result.charged:
        return i18n.translate("job.already_unlocked", locale)
    return i18n.translate_plural("paid.unlocked_left", result.available, locale)


def unlock_dialog(state: Any, dialog_id: str = "unlock-dialog") -> rx.Component:
    """The confirmation before spending, or the way to the packs when the balance is short.

    Args:
        state: the page state class holding the vars of the module docstring and the
            ``confirm_unlock`` / ``close_unlock`` handlers.
        dialog_id: DOM id of the dialog's content.
    """
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(
                rx.cond(state.confirm_enough, tr("paid.confirm_title"), tr("paid.no_credits_title"))
            ),
            rx.alert_dialog.description(state.confirm_text, id=f"{dialog_id}-text"),
            rx.cond(
                state.confirm_enough,
                rx.text(tr("paid.confirm_what"), size="2", color_scheme="gray", margin_top="0.5em"),
                rx.cond(
                    state.confirm_packs != "",
                    rx.text(state.confirm_packs, size="2", color_scheme="gray", margin_top="0.5em"),
                ),
            ),
            rx.flex(
                rx.alert_dialog.cancel(
                    rx.button(
                        tr("paid.cancel"),
                        variant="soft",
                        color_scheme="gray",
                        size="3",
                        on_click=state.close_unlock,
                        id=f"{dialog_id}-cancel",
                    )
                ),
                rx.cond(
                    state.confirm_enough,
                    rx.button(
                        rx.icon("lock_open", size=16),
                        state.confirm_ok,
                        size="3",
                        on_click=state.confirm_unlock,
                        disabled=state.unlocking != "",
                        loading=state.unlocking != "",
                        id=f"{dialog_id}-ok",
                    ),
                    rx.link(
                        rx.button(rx.icon("gem", size=16), tr("paid.buy_credits"), size="3"),
                        href=state.confirm_buy_href,
                        id=f"{dialog_id}-buy",
                    ),
                ),
                gap="3",
                justify="end",
                wrap="wrap",
                margin_top="1em",
            ),
            max_width="420px",
            id=dialog_id,
        ),
        open=state.confirm_vid != "",
        on_open_change=lambda _open: state.close_unlock,
    )


def preparing_badge() -> rx.Component:
    """Over an image whose clean full size is being made: "Готовим полный размер…"."""
    return rx.badge(
        rx.spinner(size="1"),
        tr("paid.preparing"),
        variant="solid",
        color_scheme="gray",
        position="absolute",
        bottom="8px",
        left="8px",
        class_name="fullres-progress",
    )
