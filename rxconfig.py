"""Reflex configuration: app name, telemetry off, the Radix theme (rose accent, warm sand greys;
the LashMe palette and dark theme are in ``assets/theme.css``).

The app's own settings (database, Redis, storage, providers) live in
``lashme.settings``; Reflex only needs to know how to build and serve.
"""

import reflex as rx

config = rx.Config(
    app_name="lashme",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(appearance="inherit", accent_color="pink", gray_color="sand", radius="large")
        )
    ],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
