"""``/admin/presets``: each provider's presets with their versions and job counts; publish, activate, switch off."""

from __future__ import annotations

import json

import reflex as rx

from lashme import i18n
from lashme.app.admin import presets as admin_presets
from lashme.app.admin.guard import AdminRequired
from lashme.errors import DomainError
from lashme.ui.admin.layout import admin_shell, admin_table
from lashme.ui.admin.state import AdminState
from lashme.ui.i18n import tr

MAX_PARAMS_TEXT = 2000


def _params_text(params: dict) -> str:
    return json.dumps(params, ensure_ascii=False, sort_keys=True) if params else "{}"


class AdminPresetsState(AdminState):
    """The presets list and the "new version" form (prefilled from the preset's active or newest version)."""

    presets: list[dict] = []
    editing: bool = False
    e_provider: str = ""
    e_name: str = ""
    e_title: str = ""
    e_prompt: str = ""
    e_strength: str = ""
    e_params: str = ""
    e_model: str = ""
    e_allowed: str = ""
    #: changes whenever the form opens, so its uncontrolled fields remount with the new defaults
    form_key: int = 0

    def _reload(self):
        """Load the presets; returns events to send instead on refusal, else None."""
        try:
            infos = self._service(admin_presets.list_presets)
        except AdminRequired:
            return self._turn_away()
        loc = self.lang
        self.presets = [
            {
                "key": f"{p.provider}:{p.name}",
                "provider": p.provider,
                "name": p.name,
                "title": i18n.translate(f"preset.{p.name}", loc),
                "provider_label": i18n.translate(f"admin.presets.provider_{p.provider}", loc),
                "active": p.active,
                "versions": [
                    {
                        "id": v.id,
                        "version": v.version,
                        "model": v.model,
                        "prompt": v.prompt,
                        "strength": f"{v.strength:g}",
                        "params": _params_text(v.params),
                        "active": v.active,
                        "created": i18n.format_dt(v.created_at, loc, fmt="short"),
                        "jobs": v.jobs,
                    }
                    for v in p.versions
                ],
            }
            for p in infos
        ]
        return None

    @rx.event
    def on_load(self):
        """Admins only: every preset and its versions."""
        refused = self._open_admin_page("/admin/presets")
        if isinstance(refused, list):
            return refused
        self.editing = False
        return self._reload()

    @rx.event
    def start_edit(self, key: str):
        """Open the new-version form for preset ``key`` (``provider:name``), prefilled from its current version."""
        refused = self._reload()
        if refused is not None:
            return refused
        preset = next((p for p in self.presets if p["key"] == str(key)[:100]), None)
        if preset is None or not preset["versions"]:
            return rx.toast.error(self._tr("admin.presets.unknown"))
        base = next((v for v in preset["versions"] if v["active"]), preset["versions"][0])
        rules = admin_presets.PARAM_RULES.get(preset["provider"], {})
        self.editing = True
        self.e_provider, self.e_name = preset["provider"], preset["name"]
        self.e_title = f"{preset['title']} · {preset['provider_label']}"
        self.e_prompt, self.e_strength = base["prompt"], base["strength"]
        self.e_params, self.e_model = base["params"], base["model"]
        self.e_allowed = ", ".join(sorted(rules)) or "—"
        self.form_key += 1
        return None

    @rx.event
    def cancel_edit(self):
        """Close the form."""
        if self._admin_id("presets.edit") is None:
            return self._turn_away()
        self.editing = False
        return None

    @rx.event
    def publish(self, form: dict):
        """Publish the form (``prompt``, ``strength``, ``params`` JSON, ``model``) as the next version and activate it.

        Every field is validated by the service; the preset is the one the form was opened for.
        """
        form = form if isinstance(form, dict) else {}

        def field(name: str, limit: int) -> str:
            value = form.get(name, "")
            return value[:limit] if isinstance(value, str) else ""

        prompt = field("prompt", admin_presets.MAX_PROMPT + 1)
        strength = field("strength", 32)
        text = field("params", MAX_PARAMS_TEXT + 1).strip() or "{}"
        model = field("model", 200)
        try:
            if len(text) > MAX_PARAMS_TEXT:
                raise DomainError("admin.presets.params_not_object")
            try:
                params = json.loads(text)
            except (ValueError, RecursionError):  # RecursionError: hostile nesting like "[[[[…"
                raise DomainError("admin.presets.params_not_object") from None
            version = self._service(
                admin_presets.publish,
                self.e_provider,
                self.e_name,
                prompt=prompt,
                strength=strength,
                params=params,
                model=model if self.e_provider == "fal" else None,
            )
        except AdminRequired:
            return self._turn_away()
        except DomainError as exc:
            return rx.toast.error(self._err(exc))
        self.editing = False
        refused = self._reload()
        return refused or rx.toast.success(self._tr("admin.presets.published", version=version.version))

    @rx.event
    def activate(self, version_id: int):
        """Make version ``version_id`` the active one of its preset."""
        try:
            number = int(version_id)
        except (TypeError, ValueError, OverflowError):
            return rx.toast.error(self._tr("admin.presets.version_not_found"))
        try:
            self._service(admin_presets.activate, number)
        except AdminRequired:
            return self._turn_away()
        except DomainError as exc:
            return rx.toast.error(self._err(exc))
        refused = self._reload()
        return refused or rx.toast.success(self._tr("admin.presets.activated"))

    @rx.event
    def deactivate(self, key: str):
        """Switch preset ``key`` (``provider:name``) off: new jobs skip it."""
        provider, _, name = str(key)[:100].partition(":")
        try:
            self._service(admin_presets.deactivate, provider, name)
        except AdminRequired:
            return self._turn_away()
        except DomainError as exc:
            return rx.toast.error(self._err(exc))
        refused = self._reload()
        return refused or rx.toast.success(self._tr("admin.presets.deactivated"))


CLAMP_3_LINES = {
    "display": "-webkit-box",
    "-webkit-line-clamp": "3",
    "-webkit-box-orient": "vertical",
    "overflow": "hidden",
}


def version_row(v) -> rx.Component:
    """One version: number, state (or Activate), strength, jobs, date; then its parameters and prompt."""
    return rx.fragment(
        rx.table.row(
            rx.table.cell("v", v["version"].to(str), font_weight="bold"),
            rx.table.cell(
                rx.cond(
                    v["active"].to(bool),
                    rx.badge(tr("admin.presets.active"), color_scheme="green"),
                    rx.button(
                        tr("admin.presets.activate"),
                        on_click=AdminPresetsState.activate(v["id"].to(int)),
                        size="1",
                        variant="soft",
                        id="admin-presets-activate-" + v["id"].to(str),
                        class_name="admin-presets-activate",
                    ),
                )
            ),
            rx.table.cell(v["strength"].to(str)),
            rx.table.cell(v["jobs"].to(str), class_name="admin-presets-jobs"),
            rx.table.cell(v["created"].to(str), white_space="nowrap"),
            border_bottom="none",
        ),
        rx.table.row(
            rx.table.cell(
                rx.vstack(
                    rx.code(v["params"].to(str), size="1", word_break="break-all"),
                    rx.text(v["prompt"].to(str), size="1", color_scheme="gray", style=CLAMP_3_LINES),
                    spacing="1",
                ),
                col_span=5,
                padding_top="0",
            ),
        ),
    )


def preset_card(p) -> rx.Component:
    """One preset: its name, on/off, actions and the versions table."""
    key = p["key"].to(str)
    cols = ("version", "state", "strength", "jobs", "created")
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.heading(p["title"].to(str), size="4"),
                rx.badge(p["provider_label"].to(str), variant="outline"),
                rx.cond(
                    p["active"].to(bool),
                    rx.badge(tr("admin.presets.on"), color_scheme="green"),
                    rx.badge(tr("admin.presets.off"), color_scheme="gray"),
                ),
                rx.spacer(),
                rx.button(
                    rx.icon("plus", size=14),
                    tr("admin.presets.new_version"),
                    on_click=AdminPresetsState.start_edit(key),
                    size="1",
                    id="admin-presets-edit-" + key.replace(":", "-"),
                ),
                rx.cond(
                    p["active"].to(bool),
                    rx.button(
                        tr("admin.presets.deactivate"),
                        on_click=AdminPresetsState.deactivate(key),
                        size="1",
                        variant="soft",
                        color_scheme="gray",
                        id="admin-presets-deactivate-" + key.replace(":", "-"),
                    ),
                ),
                gap="2",
                wrap="wrap",
                align="center",
                width="100%",
            ),
            admin_table([f"admin.presets.col_{c}" for c in cols], p["versions"].to(list[dict]), version_row),
            spacing="2",
            width="100%",
        ),
        width="100%",
        class_name="admin-preset",
        id="admin-preset-" + key.replace(":", "-"),
    )


def publish_form() -> rx.Component:
    """The new-version form: prompt, strength, parameters (JSON) and, for fal, the model."""
    s = AdminPresetsState
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading(tr("admin.presets.form_title"), " ", s.e_title, size="4"),
                rx.text(tr("admin.presets.prompt"), size="2", weight="medium"),
                rx.text_area(
                    name="prompt",
                    default_value=s.e_prompt,
                    max_length=admin_presets.MAX_PROMPT,
                    rows="5",
                    width="100%",
                    id="admin-presets-prompt",
                ),
                rx.flex(
                    rx.vstack(
                        rx.text(tr("admin.presets.strength"), size="2", weight="medium"),
                        rx.input(
                            name="strength",
                            default_value=s.e_strength,
                            type="number",
                            min="0",
                            max="1",
                            step="0.05",
                            id="admin-presets-strength",
                        ),
                        spacing="1",
                    ),
                    rx.cond(
                        s.e_provider == "fal",
                        rx.vstack(
                            rx.text(tr("admin.presets.model"), size="2", weight="medium"),
                            rx.input(
                                name="model",
                                default_value=s.e_model,
                                id="admin-presets-model",
                                width="20em",
                                max_width="100%",
                            ),
                            spacing="1",
                        ),
                    ),
                    gap="3",
                    wrap="wrap",
                    width="100%",
                ),
                rx.text(
                    rx.cond(
                        s.e_provider == "fal",
                        tr("admin.presets.strength_fal"),
                        tr("admin.presets.strength_studio"),
                    ),
                    size="1",
                    color_scheme="gray",
                ),
                rx.text(tr("admin.presets.params"), size="2", weight="medium"),
                rx.text_area(
                    name="params",
                    default_value=s.e_params,
                    rows="3",
                    width="100%",
                    font_family="monospace",
                    id="admin-presets-params",
                ),
                rx.text(tr("admin.presets.allowed"), " ", s.e_allowed, size="1", color_scheme="gray"),
                rx.flex(
                    rx.button(tr("admin.presets.publish"), type="submit", id="admin-presets-publish"),
                    rx.button(
                        tr("admin.presets.cancel"),
                        type="button",
                        on_click=s.cancel_edit,
                        variant="soft",
                        color_scheme="gray",
                        id="admin-presets-cancel",
                    ),
                    gap="2",
                    wrap="wrap",
                ),
                spacing="2",
                width="100%",
            ),
            on_submit=s.publish,
            reset_on_submit=False,
            key=s.form_key,
            width="100%",
        ),
        width="100%",
        id="admin-presets-form",
    )


def page() -> rx.Component:
    """The presets page body."""
    return admin_shell(
        "admin.nav.presets",
        rx.text(tr("admin.presets.intro"), size="2", color_scheme="gray"),
        rx.cond(AdminPresetsState.editing, publish_form()),
        rx.vstack(
            rx.foreach(AdminPresetsState.presets, preset_card), spacing="3", width="100%", id="admin-presets"
        ),
    )


ON_LOAD = AdminPresetsState.on_load
