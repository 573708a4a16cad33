"""Reflex configuration: app name, telemetry off, Radix theme plugin.

The app's own settings (database, Redis, storage, providers) live in
``lashme.settings``; Reflex only needs to know how to build and serve.
"""

import reflex as rx

config = rx.Config(
    app_name="lashme",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[rx.plugins.RadixThemesPlugin()],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
