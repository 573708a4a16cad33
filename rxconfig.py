"""Reflex configuration: app name, telemetry off, the Radix theme (rose accent, rosy mauve greys;
the LashMe palette and dark theme are in ``assets/theme.css``).

The app's own settings (database, Redis, storage, providers) live in
``lashme.ops.settings``; Reflex only needs to know how to build and serve.
"""

import reflex as rx

from lashme.ops.http.origins import cors_origins

#: The Radix colour scales the app uses (accent, greys, every ``color_scheme`` and ``var(--<scale>-…)``
#: in ``lashme/ui`` and ``assets/theme.css``; ``tests/unit/test_first_paint.py`` keeps it complete).
RADIX_COLORS = ("pink", "mauve", "gray", "red", "green", "amber", "violet", "blue")


class RadixThemesUsedColors(rx.plugins.RadixThemesPlugin):
    """Radix Themes with only the colour scales in :data:`RADIX_COLORS`.

    Radix's documented per-colour imports (``tokens/base.css`` + ``tokens/colors/<scale>.css`` +
    ``components.css`` + ``utilities.css``) instead of ``styles.css`` with all 30 scales: the one
    render-blocking stylesheet loses ~100 kB (~23 kB gzip), which a phone on 3G waits for before
    it paints anything.
    """

    def get_stylesheet_paths(self, **context) -> tuple[str, ...]:
        """The stylesheets to import, in cascade order (none when Radix Themes is not in use)."""
        if not self.enabled:
            return ()
        return (
            "@radix-ui/themes/tokens/base.css",
            *(f"@radix-ui/themes/tokens/colors/{name}.css" for name in RADIX_COLORS),
            "@radix-ui/themes/components.css",
            "@radix-ui/themes/utilities.css",
        )


config = rx.Config(
    app_name="lashme",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[
        RadixThemesUsedColors(
            theme=rx.theme(appearance="inherit", accent_color="pink", gray_color="mauve", radius="large")
        )
    ],
    disable_plugins=[rx.plugins.SitemapPlugin],
    # credentialed CORS only for LASHME_PUBLIC_URL (and the dev frontend in dev mode), never "*":
    # Reflex's outermost CORS middleware and socket.io read this (lashme.ops.http.origins.cors_origins)
    cors_allowed_origins=cors_origins(),
)
