"""``/admin/jobs/[job_id]``: one job's full record, its event timeline, and Retry / Refund."""

from __future__ import annotations

import asyncio
import logging

import reflex as rx

from lashme import i18n
from lashme.app.admin import job_actions
from lashme.app.admin import jobs as admin_jobs
from lashme.app.admin.guard import AdminRequired
from lashme.errors import DomainError
from lashme.ui.admin.jobs import cost_text, seconds_text
from lashme.ui.admin.layout import admin_shell, admin_table
from lashme.ui.admin.state import AdminState
from lashme.ui.i18n import tr

log = logging.getLogger(__name__)


class AdminJobState(AdminState):
    """The job in the URL, as plain strings and small row lists (no other user's secrets)."""

    job: dict[str, str] = {}
    can_retry: bool = False
    refundable: int = 0
    owner_id: int = 0
    versions: list[dict] = []
    events: list[dict] = []
    requests: list[dict] = []
    ledger_rows: list[dict] = []
    scores: list[dict] = []
    fidelity_hint: str = ""
    not_found: bool = False
    busy: bool = False

    def _route_job_id(self) -> str:
        value = self.router.page.params.get("job_id", "")
        return value[:64] if isinstance(value, str) else ""

    def _show(self, d: admin_jobs.JobDetail) -> None:
        loc = self.lang

        def when(value):
            return i18n.format_dt(value, loc, fmt="short") if value is not None else "—"

        error = ""
        if d.error_key:
            error = i18n.translate(d.error_key, loc) if i18n.has_message(d.error_key) else d.error_key
        self.not_found = False
        self.can_retry, self.refundable, self.owner_id = d.can_retry, d.refundable, d.owner_id or 0
        self.job = {
            "id": d.id,
            "owner": i18n.translate("admin.jobs.visitor", loc) if d.owner_id is None else d.owner,
            "status": d.status,
            "status_label": i18n.translate(f"status.{d.status}", loc),
            "provider": d.provider,
            "model": d.model or "—",
            "presets": ", ".join(i18n.translate(f"preset.{p}", loc) for p in d.presets),
            "attempts": str(d.attempts),
            "created": when(d.created_at),
            "started": when(d.started_at),
            "finished": when(d.finished_at),
            "latency": seconds_text(d.latency_s, loc),
            "cost": cost_text(d.cost_usd),
            "images": "—" if d.image_count is None else str(d.image_count),
            "error_key": d.error_key or "",
            "error": error,
            "error_detail": d.error_detail or "",
            "reserved": str(d.reserved_credits),
            "variants": str(d.variants),
            "refundable": str(d.refundable),
        }
        self.versions = [
            {
                "name": i18n.translate(f"preset.{v.name}", loc),
                "version": str(v.version),
                "id": str(v.id),
                "strength": f"{v.strength:g}",
                "active": i18n.translate("admin.job.yes" if v.active else "admin.job.no", loc),
            }
            for v in d.preset_versions
        ]
        self.events = [
            {
                "at": i18n.format_dt(e.at, loc, fmt="short"),
                "kind": e.kind,
                "change": f"{e.from_status or '∅'} → {e.to_status}" if e.to_status else "",
                "message": e.message or "",
            }
            for e in d.events
        ]
        self.requests = [
            {
                "index": str(r.index + 1),
                "request_id": r.request_id,
                "model": r.model,
                "status": r.status,
                "submitted": when(r.submitted_at),
                "completed": when(r.completed_at),
            }
            for r in d.requests
        ]
        self.scores = [
            {
                "index": str(v.index + 1),
                "preset": i18n.translate(f"preset.{v.preset}", loc),
                "score": "—" if v.fidelity_score is None else f"{v.fidelity_score:.3f}",
                "verdict": i18n.translate(_verdict_key(v), loc),
                "altered": "1" if v.altered else "",
            }
            for v in d.variant_scores
        ]
        self.fidelity_hint = i18n.translate(
            "admin.job.fidelity_hint", loc, threshold=f"{d.fidelity_threshold:g}"
        )
        self.ledger_rows = [
            {
                "at": i18n.format_dt(e.created_at, loc, fmt="short"),
                "kind": i18n.translate(f"kind.{e.kind}", loc),
                "delta": f"{e.delta:+d}",
                "held": f"{e.held_delta:+d}",
                "reason": e.reason,
                "actor": e.actor,
            }
            for e in d.ledger
        ]

    def _reload(self):
        """Load the job in the URL; returns events to send instead on refusal, else None."""
        try:
            d = self._service(admin_jobs.job_detail, self._route_job_id())
        except AdminRequired:
            return self._turn_away()
        except DomainError:
            self.not_found, self.job, self.versions, self.events, self.requests, self.ledger_rows = (
                True,
                {},
                [],
                [],
                [],
                [],
            )
            return None
        self._show(d)
        return None

    @rx.event
    def on_load(self):
        """Admins only: the job's record."""
        refused = self._open_admin_page("/admin/jobs")
        if isinstance(refused, list):
            return refused
        self.busy = False
        return self._reload()

    @rx.event
    async def retry(self):
        """Send the FAILED job back to the queue (the owner's credits are reserved again)."""
        job_id = self._route_job_id()
        try:
            retried = await asyncio.to_thread(self._service, job_actions.retry_job, job_id)
        except AdminRequired:
            return self._turn_away()
        except DomainError as exc:
            return rx.toast.error(self._err(exc))
        message = self._tr("admin.job.retried")
        try:
            await asyncio.to_thread(job_actions.enqueue_retry, retried)
        except Exception:  # noqa: BLE001 - Redis down: the job waits in PENDING, the sweeper queues it
            log.warning("admin retry: could not queue job %s", retried, exc_info=True)
            message = self._tr("admin.job.retried_not_queued")
        refused = self._reload()
        return refused or rx.toast.success(message)

    @rx.event
    def refund(self, form: dict):
        """Refund the owner's charges for this job (``form["reason"]`` is required)."""
        reason = form.get("reason", "") if isinstance(form, dict) else ""
        try:
            result = self._service(
                job_actions.refund_job, self._route_job_id(), reason if isinstance(reason, str) else ""
            )
        except AdminRequired:
            return self._turn_away()
        except DomainError as exc:
            return rx.toast.error(self._err(exc))
        refused = self._reload()
        return refused or rx.toast.success(self._tr("admin.job.refunded", n=result.amount))


def _verdict_key(v: admin_jobs.VariantScore) -> str:
    """Catalog key of the fidelity guard's verdict on one variant."""
    if v.filtered:
        return "admin.job.fidelity_filtered"
    if v.altered:
        return "admin.job.fidelity_altered"
    return "admin.job.fidelity_not_measured" if v.fidelity_score is None else "admin.job.fidelity_faithful"


def _field(key: str, value, field_id: str | None = None) -> rx.Component:
    return rx.hstack(
        rx.text(tr(key), size="2", color_scheme="gray", min_width="9em"),
        rx.text(value, size="2", id=field_id, word_break="break-all"),
        align="start",
        width="100%",
    )


def summary() -> rx.Component:
    """Owner, status, provider, money and error of the job."""
    j = AdminJobState.job
    return rx.card(
        rx.vstack(
            _field("admin.job.id", j["id"], "admin-job-id"),
            rx.hstack(
                rx.text(tr("admin.job.owner"), size="2", color_scheme="gray", min_width="9em"),
                rx.cond(
                    AdminJobState.owner_id > 0,
                    rx.link(
                        j["owner"],
                        href="/admin/users/" + AdminJobState.owner_id.to_string(),
                        size="2",
                        id="admin-job-owner",
                    ),
                    rx.text(j["owner"], size="2", id="admin-job-owner"),
                ),
                width="100%",
            ),
            rx.hstack(
                rx.text(tr("admin.job.status"), size="2", color_scheme="gray", min_width="9em"),
                rx.badge(
                    j["status_label"],
                    color_scheme=rx.match(
                        j["status"], ("DONE", "green"), ("FAILED", "red"), ("CANCELED", "gray"), "amber"
                    ),
                    id="admin-job-status",
                ),
                width="100%",
            ),
            _field("admin.job.provider", j["provider"], "admin-job-provider"),
            _field("admin.job.model", j["model"]),
            _field("admin.job.presets", j["presets"]),
            _field("admin.job.attempts", j["attempts"]),
            _field("admin.job.created", j["created"]),
            _field("admin.job.started", j["started"]),
            _field("admin.job.finished", j["finished"]),
            _field("admin.job.latency", j["latency"], "admin-job-latency"),
            _field("admin.job.cost", j["cost"], "admin-job-cost"),
            _field("admin.job.images", j["images"]),
            _field("admin.job.reserved", j["reserved"]),
            _field("admin.job.variants", j["variants"], "admin-job-variants"),
            _field("admin.job.refundable", j["refundable"], "admin-job-refundable"),
            rx.cond(
                j["error_key"] != "",
                rx.callout(
                    rx.vstack(
                        rx.text(j["error_key"], font_family="monospace", size="1"),
                        rx.text(j["error"], size="2"),
                        rx.text(j["error_detail"], size="1", color_scheme="gray", word_break="break-all"),
                        spacing="1",
                    ),
                    icon="triangle_alert",
                    color_scheme="red",
                    width="100%",
                    id="admin-job-error",
                ),
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
    )


def actions() -> rx.Component:
    """Retry (FAILED jobs only) and Refund with a reason."""
    return rx.card(
        rx.vstack(
            rx.cond(
                AdminJobState.can_retry,
                rx.button(
                    rx.icon("rotate_ccw", size=14),
                    tr("admin.job.retry"),
                    on_click=AdminJobState.retry,
                    id="admin-job-retry",
                ),
            ),
            rx.text(tr("admin.job.refund_hint"), size="2", color_scheme="gray"),
            rx.form(
                rx.flex(
                    rx.input(
                        name="reason",
                        placeholder=tr("admin.job.refund_reason"),
                        max_length=255,
                        id="admin-job-refund-reason",
                        flex="1",
                        min_width="200px",
                    ),
                    rx.button(
                        rx.icon("undo_2", size=14),
                        tr("admin.job.refund"),
                        type="submit",
                        color_scheme="amber",
                        disabled=AdminJobState.refundable <= 0,
                        id="admin-job-refund",
                    ),
                    gap="2",
                    wrap="wrap",
                    width="100%",
                ),
                on_submit=AdminJobState.refund,
                reset_on_submit=True,
                width="100%",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def page() -> rx.Component:
    """The admin job page body."""
    return admin_shell(
        "admin.job.title",
        rx.link(
            rx.icon("arrow_left", size=14),
            tr("admin.job.back"),
            href="/admin/jobs",
            id="admin-job-back",
            align_self="start",
        ),
        rx.cond(
            AdminJobState.not_found,
            rx.text(tr("admin.jobs.not_found"), id="admin-job-not-found"),
            rx.vstack(
                summary(),
                actions(),
                rx.heading(tr("admin.job.versions"), size="4"),
                admin_table(
                    [
                        "admin.job.col_preset",
                        "admin.job.col_version",
                        "admin.job.col_version_id",
                        "admin.job.col_strength",
                        "admin.job.col_active",
                    ],
                    AdminJobState.versions,
                    lambda v: rx.table.row(
                        rx.table.cell(v["name"].to(str)),
                        rx.table.cell(v["version"].to(str)),
                        rx.table.cell(v["id"].to(str)),
                        rx.table.cell(v["strength"].to(str)),
                        rx.table.cell(v["active"].to(str)),
                    ),
                    "admin-job-versions",
                ),
                rx.heading(tr("admin.job.timeline"), size="4"),
                admin_table(
                    [
                        "admin.job.col_time",
                        "admin.job.col_kind",
                        "admin.job.col_change",
                        "admin.job.col_message",
                    ],
                    AdminJobState.events,
                    lambda e: rx.table.row(
                        rx.table.cell(e["at"].to(str), white_space="nowrap"),
                        rx.table.cell(e["kind"].to(str)),
                        rx.table.cell(e["change"].to(str), white_space="nowrap"),
                        rx.table.cell(e["message"].to(str), word_break="break-word"),
                    ),
                    "admin-job-events",
                ),
                rx.heading(tr("admin.job.requests"), size="4"),
                rx.cond(
                    AdminJobState.requests.length() > 0,
                    admin_table(
                        [
                            "admin.job.col_index",
                            "admin.job.col_request_id",
                            "admin.job.model",
                            "admin.job.status",
                            "admin.job.col_submitted",
                            "admin.job.col_completed",
                        ],
                        AdminJobState.requests,
                        lambda r: rx.table.row(
                            rx.table.cell(r["index"].to(str)),
                            rx.table.cell(r["request_id"].to(str), font_family="monospace"),
                            rx.table.cell(r["model"].to(str)),
                            rx.table.cell(r["status"].to(str)),
                            rx.table.cell(r["submitted"].to(str), white_space="nowrap"),
                            rx.table.cell(r["completed"].to(str), white_space="nowrap"),
                        ),
                        "admin-job-requests",
                    ),
                    rx.text(tr("admin.job.no_requests"), size="2", color_scheme="gray"),
                ),
                rx.cond(
                    AdminJobState.scores.length() > 0,
                    rx.vstack(
                        rx.heading(tr("admin.job.fidelity"), size="4"),
                        rx.text(AdminJobState.fidelity_hint, size="2", color_scheme="gray"),
                        admin_table(
                            [
                                "admin.job.col_index",
                                "admin.job.col_preset",
                                "admin.job.col_score",
                                "admin.job.col_verdict",
                            ],
                            AdminJobState.scores,
                            lambda f: rx.table.row(
                                rx.table.cell(f["index"].to(str)),
                                rx.table.cell(f["preset"].to(str)),
                                rx.table.cell(f["score"].to(str), class_name="fidelity-score"),
                                rx.table.cell(
                                    f["verdict"].to(str),
                                    color=rx.cond(f["altered"].to(str) != "", "var(--red-11)", "inherit"),
                                ),
                            ),
                            "admin-job-fidelity",
                        ),
                        spacing="3",
                        width="100%",
                    ),
                ),
                rx.heading(tr("admin.job.ledger"), size="4"),
                rx.cond(
                    AdminJobState.ledger_rows.length() > 0,
                    admin_table(
                        [
                            "admin.job.col_time",
                            "admin.job.col_kind",
                            "admin.job.col_delta",
                            "admin.job.col_held",
                            "admin.job.col_reason",
                            "admin.job.col_actor",
                        ],
                        AdminJobState.ledger_rows,
                        lambda e: rx.table.row(
                            rx.table.cell(e["at"].to(str), white_space="nowrap"),
                            rx.table.cell(e["kind"].to(str)),
                            rx.table.cell(e["delta"].to(str)),
                            rx.table.cell(e["held"].to(str)),
                            rx.table.cell(e["reason"].to(str)),
                            rx.table.cell(e["actor"].to(str)),
                        ),
                        "admin-job-ledger",
                    ),
                    rx.text(tr("admin.job.no_ledger"), size="2", color_scheme="gray"),
                ),
                spacing="3",
                width="100%",
            ),
        ),
    )


ON_LOAD = AdminJobState.on_load
