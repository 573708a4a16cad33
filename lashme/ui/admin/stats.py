"""``/admin/stats``: per-UTC-day figures for 7/30/90 days as charts (Recharts) and a table.

What each figure means is documented in :mod:`lashme.app.admin.stats`.  Reflex's
chart components wrap themselves in Recharts' ``ResponsiveContainer`` (width
100 %), so each chart sits in a box of fixed height and follows the page's width.
"""

from __future__ import annotations

import reflex as rx
from babel.numbers import format_currency

from lashme import i18n
from lashme.app.admin import stats as admin_stats
from lashme.app.admin.guard import AdminRequired
from lashme.errors import DomainError
from lashme.ui.admin.layout import admin_shell
from lashme.ui.admin.state import AdminState
from lashme.ui.i18n import tr

RANGES = tuple(str(d) for d in admin_stats.RANGES)
DEFAULT_RANGE = "30"
#: table columns: (row key, header message key)
COLUMNS = (
    ("day", "admin.stats.col_day"),
    ("jobs", "admin.stats.jobs"),
    ("done", "admin.stats.done"),
    ("failed", "admin.stats.failed"),
    ("success", "admin.stats.success_rate"),
    ("p50", "admin.stats.p50"),
    ("p95", "admin.stats.p95"),
    ("unlocks", "admin.stats.unlocks"),
    ("credits_sold", "admin.stats.credits_sold"),
    ("revenue", "admin.stats.revenue"),
    ("cost", "admin.stats.provider_cost"),
)
ROSE, GOLD, GREEN, RED, BLUE, GRAY = (
    "var(--pink-9)",
    "var(--amber-9)",
    "var(--green-9)",
    "var(--red-9)",
    "var(--blue-9)",
    "var(--gray-9)",
)


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _cells(d: admin_stats.DayStats, day: str, money: str) -> dict[str, str]:
    """A table row: every figure as display text (revenue in USD; other currencies in the totals)."""
    return {
        "day": day,
        "jobs": str(d.jobs),
        "done": str(d.done),
        "failed": str(d.failed),
        "success": _percent(d.success_rate),
        "p50": _seconds(d.p50_s),
        "p95": _seconds(d.p95_s),
        "unlocks": str(d.unlocks),
        "credits_sold": str(d.credits_sold),
        "revenue": i18n.format_money(d.revenue.get("usd", 0), "usd", money),
        "cost": format_currency(d.provider_cost_usd, "USD", locale=money),
    }


class AdminStatsState(AdminState):
    """The chosen period's chart points, table rows and totals."""

    days: str = DEFAULT_RANGE
    chart: list[dict] = []
    rows: list[dict[str, str]] = []
    totals: dict[str, str] = {}
    #: revenue in currencies other than USD over the period ("€12.00 · £5.00"), empty when none
    other_revenue: str = ""

    def _clear(self) -> None:
        self.chart, self.rows, self.totals, self.other_revenue = [], [], {}, ""

    def _load(self) -> None:
        report = self._service(admin_stats.daily_stats, int(self.days))
        loc = self.lang
        money = i18n.money_locale(loc)
        self.chart = [
            {
                "day": d.day.strftime("%m-%d"),
                "jobs": d.jobs,
                "done": d.done,
                "failed": d.failed,
                "success": None if d.success_rate is None else round(d.success_rate * 100, 1),
                "p50": None if d.p50_s is None else round(d.p50_s, 2),
                "p95": None if d.p95_s is None else round(d.p95_s, 2),
                "unlocks": d.unlocks,
                "credits_sold": d.credits_sold,
                "revenue": d.revenue.get("usd", 0) / 100,
                "cost": round(d.provider_cost_usd, 4),
            }
            for d in report.rows
        ]
        self.rows = [_cells(d, d.day.isoformat(), money) for d in reversed(report.rows)]
        self.totals = _cells(report.totals, self._tr("admin.stats.total"), money)
        self.other_revenue = " · ".join(
            i18n.format_money(report.totals.revenue[c], c, money) for c in report.currencies if c != "usd"
        )

    @rx.event
    def on_load(self):
        """Admins only: the last 30 days."""
        self._clear()
        self.days = DEFAULT_RANGE
        refused = self._open_admin_page("/admin/stats")
        if isinstance(refused, list):
            return refused
        try:
            self._load()
        except AdminRequired:
            self._clear()
            return self._turn_away()
        return None

    @rx.event
    def set_days(self, value: str | list[str]):
        """Show the last 7, 30 or 90 days."""
        if self._admin_id("stats.range") is None:
            return self._turn_away()
        value = str(value)
        if value not in RANGES:
            return rx.toast.error(self._err(DomainError("admin.stats.bad_range")))
        before, self.days = self.days, value
        try:
            self._load()
        except AdminRequired:
            self.days = before
            self._clear()
            return self._turn_away()
        return None


def _chart_box(title_key: str, chart: rx.Component, box_id: str) -> rx.Component:
    return rx.card(
        rx.text(tr(title_key), weight="bold", size="2"),
        rx.box(chart, height="240px", width="100%"),
        width="100%",
        id=box_id,
    )


def _axes(right: bool = False) -> list[rx.Component]:
    parts = [
        rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
        rx.recharts.x_axis(data_key="day"),
        rx.recharts.y_axis(y_axis_id="left", allow_decimals=False),
        rx.recharts.graphing_tooltip(),
        rx.recharts.legend(),
    ]
    if right:
        parts.insert(3, rx.recharts.y_axis(y_axis_id="right", orientation="right", domain=[0, 100], unit="%"))
    return parts


def charts() -> rx.Component:
    """Jobs & success rate, p50/p95 seconds, unlocks & credits sold, revenue vs provider cost."""
    data = AdminStatsState.chart
    return rx.grid(
        _chart_box(
            "admin.stats.chart_jobs",
            rx.recharts.composed_chart(
                rx.recharts.bar(
                    data_key="done", name=tr("admin.stats.done"), fill=GREEN, y_axis_id="left", stack_id="j"
                ),
                rx.recharts.bar(
                    data_key="failed", name=tr("admin.stats.failed"), fill=RED, y_axis_id="left", stack_id="j"
                ),
                rx.recharts.line(
                    data_key="jobs", name=tr("admin.stats.jobs"), stroke=BLUE, y_axis_id="left", dot=False
                ),
                rx.recharts.line(
                    data_key="success",
                    name=tr("admin.stats.success_rate"),
                    stroke=GOLD,
                    y_axis_id="right",
                    connect_nulls=True,
                    unit="%",
                ),
                *_axes(right=True),
                data=data,
            ),
            "admin-stats-chart-jobs",
        ),
        _chart_box(
            "admin.stats.chart_time",
            rx.recharts.line_chart(
                rx.recharts.line(
                    data_key="p50", name=tr("admin.stats.p50"), stroke=BLUE, y_axis_id="left", unit=" s"
                ),
                rx.recharts.line(
                    data_key="p95", name=tr("admin.stats.p95"), stroke=ROSE, y_axis_id="left", unit=" s"
                ),
                *_axes(),
                data=data,
            ),
            "admin-stats-chart-time",
        ),
        _chart_box(
            "admin.stats.chart_sales",
            rx.recharts.bar_chart(
                rx.recharts.bar(
                    data_key="unlocks", name=tr("admin.stats.unlocks"), fill=ROSE, y_axis_id="left"
                ),
                rx.recharts.bar(
                    data_key="credits_sold", name=tr("admin.stats.credits_sold"), fill=GOLD, y_axis_id="left"
                ),
                *_axes(),
                data=data,
            ),
            "admin-stats-chart-sales",
        ),
        _chart_box(
            "admin.stats.chart_money",
            rx.recharts.composed_chart(
                rx.recharts.bar(
                    data_key="revenue", name=tr("admin.stats.revenue"), fill=GREEN, y_axis_id="left"
                ),
                rx.recharts.line(
                    data_key="cost",
                    name=tr("admin.stats.provider_cost"),
                    stroke=GRAY,
                    y_axis_id="left",
                    dot=False,
                ),
                rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
                rx.recharts.x_axis(data_key="day"),
                rx.recharts.y_axis(y_axis_id="left", unit="$"),
                rx.recharts.graphing_tooltip(),
                rx.recharts.legend(),
                data=data,
            ),
            "admin-stats-chart-money",
        ),
        columns=rx.breakpoints(initial="1", md="2"),
        spacing="3",
        width="100%",
    )


def stats_table() -> rx.Component:
    """One row per day (newest first) and the period's totals."""
    return rx.box(
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(tr(k)) for _, k in COLUMNS])),
            rx.table.body(
                rx.foreach(
                    AdminStatsState.rows,
                    lambda r: rx.table.row(*[rx.table.cell(r[c]) for c, _ in COLUMNS]),
                ),
                rx.table.row(
                    *[rx.table.cell(rx.text.strong(AdminStatsState.totals[c].to(str))) for c, _ in COLUMNS],
                    id="admin-stats-totals",
                ),
            ),
            size="1",
            width="100%",
            id="admin-stats-table",
        ),
        width="100%",
        overflow_x="auto",
        tab_index=0,  # scrolls sideways on a phone: reachable by keyboard (assets/theme.css .lm-table-scroll)
        class_name="lm-table-scroll",
    )


ON_LOAD = AdminStatsState.on_load


def page() -> rx.Component:
    """The period switch, four charts, the table."""
    return admin_shell(
        "admin.nav.stats",
        rx.flex(
            rx.segmented_control.root(
                *[rx.segmented_control.item(tr(f"admin.stats.days_{d}"), value=d) for d in RANGES],
                value=AdminStatsState.days,
                on_change=AdminStatsState.set_days,
                id="admin-stats-range",
            ),
            rx.text(tr("admin.stats.utc_note"), size="1", color_scheme="gray"),
            wrap="wrap",
            gap="3",
            align="center",
            width="100%",
        ),
        charts(),
        rx.cond(
            AdminStatsState.other_revenue != "",
            rx.text(tr("admin.stats.other_currencies"), " ", AdminStatsState.other_revenue, size="2"),
        ),
        stats_table(),
    )
