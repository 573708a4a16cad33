"""``/admin/jobs``: every job, filtered by status, provider, preset, UTC day range and owner; 25 a page."""

from __future__ import annotations

from datetime import date

import reflex as rx

from lashme import i18n
from lashme.app.admin import JOB_STATUSES, PROVIDERS
from lashme.app.admin import jobs as admin_jobs
from lashme.app.admin.guard import AdminRequired
from lashme.errors import DomainError
from lashme.ui.admin.layout import admin_shell, admin_table
from lashme.ui.admin.paged import AdminPagerMixin, admin_pager
from lashme.ui.admin.state import AdminState
from lashme.ui.components.pager import FIRST
from lashme.ui.i18n import tr

PAGE_SIZE = 25
STATUSES = JOB_STATUSES
PRESETS = admin_jobs.preset_names()


def _day(value: object) -> date | None:
    """A ``YYYY-MM-DD`` string from a date input as a date; empty → None.

    Raises:
        DomainError: ``admin.jobs.bad_filter`` for anything else.
    """
    text = str(value or "").strip()[:10]
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DomainError("admin.jobs.bad_filter") from None


def seconds_text(value: float | None, locale: str) -> str:
    """``12.3 s`` (per locale), or an em dash when unknown."""
    if value is None:
        return "—"
    return i18n.translate("admin.jobs.seconds", locale, s=f"{value:.1f}")


def cost_text(value: float | None) -> str:
    """``$0.1200``, or an em dash when not recorded."""
    return "—" if value is None else f"${value:.4f}"


class AdminJobsState(AdminPagerMixin, AdminState):
    """One page of the job search (the pager: :class:`AdminPagerMixin`); the filters as the admin set them."""

    rows: list[dict] = []
    total: int = 0
    f_status: str = ""
    f_provider: str = ""
    f_preset: str = ""
    f_from: str = ""
    f_to: str = ""
    f_owner: str = ""
    #: changes when the filters are reset, so the uncontrolled inputs remount with empty values
    form_key: int = 0

    def _search(self, wanted: dict, move: str):
        """Run the search with ``wanted`` filter values; set the state only when the service answered.

        ``move`` is a pager move (``FIRST`` for a new search, ``NEXT``/``PREV`` from the pager).

        Returns:
            None on success, else the events to return (refusal or error toast).
        """
        try:
            filters = admin_jobs.JobFilter(
                status=wanted["status"] if wanted["status"] in STATUSES else "",
                provider=wanted["provider"] if wanted["provider"] in PROVIDERS else "",
                preset=wanted["preset"] if wanted["preset"] in PRESETS else "",
                date_from=_day(wanted["from"]),
                date_to=_day(wanted["to"]),
                owner=str(wanted["owner"] or "").strip()[:254],
            )
            found = self._service(
                admin_jobs.search_jobs, filters, token=self._page_token(move), limit=PAGE_SIZE
            )
        except AdminRequired:
            return self._turn_away()
        except DomainError as exc:
            return rx.toast.error(self._err(exc))
        loc = self.lang
        self.f_status, self.f_provider, self.f_preset = filters.status, filters.provider, filters.preset
        self.f_from = filters.date_from.isoformat() if filters.date_from else ""
        self.f_to = filters.date_to.isoformat() if filters.date_to else ""
        self.f_owner = filters.owner
        self._show_page(move, found.next_token, found.prev_token)
        self.total = found.total or 0
        self.rows = [
            {
                "id": r.id,
                "short_id": r.id[:8],
                "created": i18n.format_dt(r.created_at, loc, fmt="short"),
                "owner": i18n.translate("admin.jobs.visitor", loc) if r.is_visitor else r.owner,
                "status": r.status,
                "status_label": i18n.translate(f"status.{r.status}", loc),
                "provider": r.provider,
                "latency": seconds_text(r.latency_s, loc),
                "cost": cost_text(r.cost_usd),
                "error": r.error_key or "",
            }
            for r in found.items
        ]
        return None

    def _current(self, **changes: object) -> dict:
        wanted = {
            "status": self.f_status,
            "provider": self.f_provider,
            "preset": self.f_preset,
            "from": self.f_from,
            "to": self.f_to,
            "owner": self.f_owner,
        }
        wanted.update({k: str(v)[:254] for k, v in changes.items()})
        return wanted

    @rx.event
    def on_load(self):
        """Admins only: the newest jobs, no filter."""
        refused = self._open_admin_page("/admin/jobs")
        if isinstance(refused, list):
            return refused
        return self._search({k: "" for k in self._current()}, FIRST)

    @rx.event
    def set_status(self, value: str):
        """Only jobs in status ``value`` (``all`` = any)."""
        return self._search(self._current(status=value), FIRST)

    @rx.event
    def set_provider(self, value: str):
        """Only jobs of provider ``value`` (``all`` = any)."""
        return self._search(self._current(provider=value), FIRST)

    @rx.event
    def set_preset(self, value: str):
        """Only jobs that run preset ``value`` (``all`` = any)."""
        return self._search(self._current(preset=value), FIRST)

    @rx.event
    def set_from(self, value: str):
        """Jobs created on or after UTC day ``value`` (``YYYY-MM-DD``; empty = no bound)."""
        return self._search(self._current(**{"from": value}), FIRST)

    @rx.event
    def set_to(self, value: str):
        """Jobs created on or before UTC day ``value`` (``YYYY-MM-DD``; empty = no bound)."""
        return self._search(self._current(to=value), FIRST)

    @rx.event
    def search_owner(self, form: dict):
        """Jobs whose owner's email contains ``form["owner"]``."""
        owner = form.get("owner", "") if isinstance(form, dict) else ""
        return self._search(self._current(owner=owner if isinstance(owner, str) else ""), FIRST)

    @rx.event
    def reset_filters(self):
        """Every job again (the date and owner inputs are emptied)."""
        refused = self._search({k: "" for k in self._current()}, FIRST)
        if refused is None:
            self.form_key += 1
        return refused

    def _page(self, move: str):
        """The newer / older jobs of the search shown (the pager's handlers)."""
        return self._search(self._current(), move)


def _select(
    select_id: str, value, on_change, any_key: str, items: list[tuple[str, str]], label_key: str
) -> rx.Component:
    """A filter menu; ``items`` are ``(value, message key)``, ``all`` stands for no filter.

    ``label_key`` names the menu for screen readers (a combobox takes no name from its value).
    """
    return rx.select.root(
        rx.select.trigger(id=select_id, aria_label=tr(label_key)),
        rx.select.content(
            rx.select.item(tr(any_key), value="all"),
            *[rx.select.item(tr(key), value=v) for v, key in items],
        ),
        value=rx.cond(value == "", "all", value),
        on_change=on_change,
        size="2",
    )


def filters() -> rx.Component:
    """The filter controls (they wrap on a phone)."""
    return rx.vstack(
        rx.flex(
            _select(
                "admin-jobs-status",
                AdminJobsState.f_status,
                AdminJobsState.set_status,
                "admin.jobs.any_status",
                [(s, f"status.{s}") for s in STATUSES],
                "admin.jobs.col_status",
            ),
            _select(
                "admin-jobs-provider",
                AdminJobsState.f_provider,
                AdminJobsState.set_provider,
                "admin.jobs.any_provider",
                [(p, f"admin.presets.provider_{p}") for p in PROVIDERS],
                "admin.jobs.col_provider",
            ),
            _select(
                "admin-jobs-preset",
                AdminJobsState.f_preset,
                AdminJobsState.set_preset,
                "admin.jobs.any_preset",
                [(p, f"preset.{p}") for p in PRESETS],
                "admin.jobs.any_preset",
            ),
            rx.hstack(
                rx.el.label(
                    tr("admin.jobs.from"), html_for="admin-jobs-from", class_name="rt-Text rt-r-size-2"
                ),
                rx.input(
                    type="date",
                    default_value=AdminJobsState.f_from,
                    on_change=AdminJobsState.set_from,
                    id="admin-jobs-from",
                    size="2",
                ),
                align="center",
            ),
            rx.hstack(
                rx.el.label(tr("admin.jobs.to"), html_for="admin-jobs-to", class_name="rt-Text rt-r-size-2"),
                rx.input(
                    type="date",
                    default_value=AdminJobsState.f_to,
                    on_change=AdminJobsState.set_to,
                    id="admin-jobs-to",
                    size="2",
                ),
                align="center",
            ),
            gap="2",
            wrap="wrap",
            align="center",
            width="100%",
        ),
        rx.form(
            rx.flex(
                rx.input(
                    name="owner",
                    placeholder=tr("admin.jobs.owner_placeholder"),
                    aria_label=tr("admin.jobs.owner_placeholder"),
                    default_value=AdminJobsState.f_owner,
                    id="admin-jobs-owner",
                    size="2",
                    flex="1",
                    min_width="200px",
                ),
                rx.button(
                    rx.icon("search", size=14), tr("admin.jobs.search"), type="submit", id="admin-jobs-search"
                ),
                rx.button(
                    tr("admin.jobs.reset"),
                    type="button",
                    variant="soft",
                    color_scheme="gray",
                    on_click=AdminJobsState.reset_filters,
                    id="admin-jobs-reset",
                ),
                gap="2",
                wrap="wrap",
                width="100%",
            ),
            on_submit=AdminJobsState.search_owner,
            reset_on_submit=False,
            width="100%",
        ),
        width="100%",
        spacing="2",
        key=AdminJobsState.form_key,
    )


def job_row(r) -> rx.Component:
    """One job in the table; its id links to the job page."""
    jid = r["id"].to(str)
    return rx.table.row(
        rx.table.cell(r["created"].to(str), white_space="nowrap"),
        rx.table.cell(
            rx.link(
                r["short_id"].to(str),
                href="/admin/jobs/" + jid,
                class_name="admin-job-link",
                font_family="monospace",
            )
        ),
        rx.table.cell(r["owner"].to(str)),
        rx.table.cell(
            rx.badge(
                r["status_label"].to(str),
                color_scheme=rx.match(
                    r["status"].to(str), ("DONE", "green"), ("FAILED", "red"), ("CANCELED", "gray"), "amber"
                ),
            )
        ),
        rx.table.cell(r["provider"].to(str)),
        rx.table.cell(r["latency"].to(str), white_space="nowrap"),
        rx.table.cell(r["cost"].to(str)),
        rx.table.cell(r["error"].to(str), font_family="monospace", font_size="0.8em"),
    )


def page() -> rx.Component:
    """The jobs page body."""
    cols = ("created", "job", "owner", "status", "provider", "latency", "cost", "error")
    return admin_shell(
        "admin.nav.jobs",
        filters(),
        rx.text(
            tr("admin.jobs.total"),
            " ",
            AdminJobsState.total,
            size="2",
            color_scheme="gray",
            id="admin-jobs-total",
        ),
        rx.cond(
            AdminJobsState.rows.length() > 0,
            admin_table(
                [f"admin.jobs.col_{c}" for c in cols], AdminJobsState.rows, job_row, "admin-jobs-table"
            ),
            rx.text(tr("admin.jobs.none"), color_scheme="gray", align_self="start", id="admin-jobs-empty"),
        ),
        admin_pager(AdminJobsState, "admin-jobs-pager"),
    )


ON_LOAD = AdminJobsState.on_load
