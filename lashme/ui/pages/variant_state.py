"""State of ``/variant/[variant_id]``: the caller's variant, its unlock, downloads, note, favorite, delete.

Only the owner sees anything: other ids show "not found" and leave the state empty.  The page that
shows it is :mod:`lashme.ui.pages.variant`.
"""

from __future__ import annotations

import asyncio
import dataclasses

import reflex as rx

from lashme import i18n
from lashme.app import gallery as app_gallery
from lashme.app import job as app_job
from lashme.app import session as app_session
from lashme.app import variant as app_variant
from lashme.app.caller import Caller
from lashme.errors import AuthError, DomainError, InsufficientCredits
from lashme.ui.components.unlock import UnlockMixin, unlock_then, unlocked_toast
from lashme.ui.state import SessionState

#: seconds between safety re-reads while waiting for the full-size file (announcements may be lost)
SAFETY_REFRESH_S = 15.0


class VariantState(UnlockMixin, SessionState):
    """The variant on the page (the caller's own) and the busy flags (the unlock dialog: UnlockMixin)."""

    v: dict = {}
    not_found: bool = False
    loading: bool = True
    preparing: bool = False
    _watch_token: int = 0

    def _route_variant_id(self) -> str:
        parts = [p for p in self.router.url.path.split("/") if p]
        return parts[1][:32] if len(parts) >= 2 and parts[0] == "variant" else ""

    def _page_dict(self, page: app_variant.VariantPage) -> dict:
        loc = self.lang
        return {
            **dataclasses.asdict(page),
            "label": i18n.translate(page.label_key, loc),
            "created": i18n.format_dt(page.created_at, loc),
            "created_at": page.created_at.isoformat(),
            "rendering": page.unlocked and page.fullres in app_job.RENDERING_STATES,
            "full_size": i18n.translate(
                "paid.full_size_px", loc, width=page.full_width, height=page.full_height
            )
            if page.full_width
            else "",
            "small_crops_note": i18n.translate(
                "paid.crop_too_small", loc, crops=", ".join(c.replace("x", ":") for c in page.small_crops)
            )
            if page.small_crops
            else "",
        }

    async def _reload(self, variant_id: str) -> None:
        try:
            page = await self._run(app_variant.get, variant_id)
            self.v, self.not_found = self._page_dict(page), False
        except DomainError:
            self.v, self.not_found = {}, True
        self.loading = False

    @rx.event
    async def on_load(self):
        """Show the variant in the URL if it is the caller's."""
        self._ensure_anon()
        self.loading, self.preparing, self.v, self.not_found = True, False, {}, False
        self.confirm_vid = self.unlocking = ""
        caller = self._refresh_user()
        variant_id = self._route_variant_id()
        if not caller.signed_in:
            yield rx.redirect(f"/login?next=/variant/{variant_id}")
            return
        yield
        await self._reload(variant_id)
        if self._rendering():
            self._watch_token += 1
            yield VariantState.watch_render

    def _rendering(self) -> bool:
        return bool(self.v.get("unlocked")) and self.v.get("fullres") in app_job.RENDERING_STATES

    @rx.event(background=True)
    async def watch_render(self):
        """Show the downloads as soon as the full-size file of the unlocked variant is ready."""
        async with self:
            token, vid, job_id = self._watch_token, self._current(), str(self.v.get("job_id", ""))
            creds = self._credentials()
        if not vid:
            return
        caller = await asyncio.to_thread(lambda: app_session.caller_for(**creds))
        try:
            async with app_job.watch(caller, job_id) as changes:
                while True:
                    page = await asyncio.to_thread(app_variant.get, caller, vid)
                    async with self:
                        if token != self._watch_token or vid != self._current():
                            return  # the page moved on
                        self.v = self._page_dict(page)
                    if page.fullres not in app_job.RENDERING_STATES:
                        return
                    await changes.wait(SAFETY_REFRESH_S)
        except DomainError:
            return

    def _current(self) -> str:
        return str(self.v.get("id", ""))

    def _signed_in(self) -> Caller | None:
        caller = self._caller()
        return caller if caller.signed_in else None

    @rx.event
    def ask_unlock(self):
        """Open the confirmation: the price and the balance after, or the packs when it is short."""
        caller = self._signed_in()
        if caller is None:
            return rx.redirect(f"/login?next=/variant/{self._current()}")
        if self.unlocking:
            return None
        quote, refused = self._open_confirmation(self._current(), caller)
        if refused is not None:
            return refused
        if quote.unlocked:  # paid before (e.g. a failed render to try again): nothing to confirm
            return VariantState.unlock
        return None

    @rx.event
    async def confirm_unlock(self):
        """Spend the confirmed unlock once (a second tap finds the dialog closed and does nothing)."""
        if self.confirm_vid != self._current():
            return
        vid = self._take_confirmed()
        if not vid:
            return
        async for update in self._unlock(vid):
            yield update

    @rx.event
    async def unlock(self):
        """Unlock this variant (free when already unlocked: retries a failed full-size render)."""
        if self.unlocking:
            return
        async for update in self._unlock(self._current()):
            yield update

    async def _unlock(self, vid: str):
        self.unlocking = vid
        yield
        try:  # the unlock and the re-read in one worker-thread hop: the clean image comes with the balance
            result, page = await self._run(unlock_then, vid, app_variant.get, vid)
        except AuthError:  # a visitor, or signed out meanwhile
            self.unlocking = ""
            yield rx.redirect(f"/login?next=/variant/{vid}")
            return
        except InsufficientCredits:  # the balance changed meanwhile: offer the packs
            self.unlocking = ""
            yield VariantState.ask_unlock
            return
        except DomainError as exc:
            self.unlocking = ""
            yield rx.toast.error(self._err(exc))
            return
        self.balance, self.held = result.available, result.held  # read in the unlock's transaction
        self.v, self.not_found = (self._page_dict(page), False) if page is not None else ({}, True)
        self.unlocking = ""
        yield rx.toast.success(unlocked_toast(result, self.lang))
        if self._rendering():
            self._watch_token += 1  # the full size is being made: show its downloads when it is ready
            yield VariantState.watch_render

    @rx.event
    def download(self, kind: str):
        """Download the unlocked variant, ``full`` size or the Instagram ``insta`` 4:5 crop."""
        caller = self._signed_in()
        if caller is None:
            return rx.redirect("/login")
        url, refused = self._call(
            app_variant.download_link, self._current(), "insta" if kind == "insta" else "full", caller=caller
        )
        return refused if refused is not None else rx.download(url=url)

    @rx.event
    async def download_zip(self):
        """All unlocked variants of this job as one ZIP, through a signed URL bound to this user."""
        if self._signed_in() is None:
            yield rx.redirect("/login")
            return
        self.preparing = True
        yield
        url, refused = await self._call_async(app_gallery.zip_link, str(self.v.get("job_id", "")))
        self.preparing = False
        yield refused if refused is not None else rx.download(url=url)

    @rx.event
    def save_note(self, form: dict):
        """Store the job's note (searchable in the gallery)."""
        caller = self._signed_in()
        if caller is None:
            return rx.redirect("/login")
        note, refused = self._call(
            app_gallery.set_note, str(self.v.get("job_id", "")), str(form.get("note", "")), caller=caller
        )
        if refused is not None:
            return refused
        self.v = {**self.v, "note": note}
        return rx.toast.success(self._tr("variant.note_saved"))

    @rx.event
    def toggle_favorite(self):
        """Mark or unmark this variant as a favorite."""
        caller = self._signed_in()
        if caller is None:
            return rx.redirect("/login")
        value = not bool(self.v.get("favorite"))
        _, refused = self._call(app_gallery.set_favorite, self._current(), value, caller=caller)
        if refused is not None:
            return refused
        self.v = {**self.v, "favorite": value}
        return rx.toast.success(self._tr("gallery.favorited" if value else "gallery.unfavorited"))

    @rx.event
    async def delete(self):
        """Delete this variant (files, then row) and go back to the gallery."""
        if self._signed_in() is None:
            yield rx.redirect("/login")
            return
        _, refused = await self._call_async(app_gallery.delete_variant, self._current())
        if refused is not None:
            yield refused
            return
        self.v = {}
        yield rx.toast.success(self._tr("gallery.deleted"))
        yield rx.redirect("/gallery")
