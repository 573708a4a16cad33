"""Reflex configuration: app name, telemetry off, the Radix theme (rose accent, rosy mauve greys;
the LashMe palette and dark theme are in ``assets/theme.css``).

The app's own settings (database, Redis, storage, providers) live in
``lashme.ops.settings``; Reflex only needs to know how to build and serve.
"""

import reflex as rx

from lashme.ops.http import cors_origins

config = rx.Config(
    app_name="lashme",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(appearance="inherit", accent_color="pink", gray_color="mauve", radius="large")
        )
    ],
    disable_plugins=[rx.plugins.SitemapPlugin],
    # credentialed CORS only for LASHME_PUBLIC_URL (and the dev frontend in dev mode), never "*":
    # Reflex's outermost CORS middleware and socket.io read this (lashme.ops.http.cors_origins)
    cors_allowed_origins=cors_origins(),
)
