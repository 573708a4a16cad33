"""Server-side language of the statically built pages: ``<html lang>``, ``<title>``, descriptions, body text.

Reflex compiles every page to one static HTML file at build time, in one language.  A pure ASGI
middleware (no Reflex import, :mod:`~lashme.i18n.html.middleware`) rewrites each page response
for the visitor's language, so the first paint, screen readers, search engines and link
previews get the right language before any JavaScript runs.  The language is
(:mod:`~lashme.i18n.html.negotiation`):

1. the language cookie ``lashme_locale`` (set by the language switch; a signed-in user's saved
   language is written to it when a page loads), else
2. the ``Accept-Language`` header (RFC 9110 §12.5.4, weights honoured), else
3. Russian (``FALLBACK``), the first language of our users.

Titles come from the catalogs (``page.<name>.title``, ``page.<name>.description`` with
``page.default.*`` as fallbacks), picked by the request path through ``PAGE_ROUTES``
(:mod:`~lashme.i18n.html.page_titles`), and written into ``<html lang>``, ``<title>`` and the
description metas (:mod:`~lashme.i18n.html.head`).

No first paint in the wrong language: the pages are prerendered in ``BUILD_LOCALE`` (Russian,
the state's default).  For a visitor of another language the middleware also

* translates the body's text nodes and its ``aria-label``/``placeholder``/``title``/``alt``
  attributes from the build language's catalog texts to the visitor's, and the few state-made
  texts prerendered from the state's defaults (:mod:`~lashme.i18n.html.body_text`),
* puts the catalog entries it used into ``globalThis.__lmT`` with an inline script before the
  page's modules, which ``lashme.ui.i18n.tr`` reads until the session state arrives, so React's
  hydration renders the same words the HTML showed, and
* when the request had no language cookie, sets one with the chosen language, so the
  websocket's first state already carries it.

A slow phone's first paint (:mod:`~lashme.i18n.html.first_paint`): the page's own font subset
is preloaded, the rules of the app's stylesheet that the page can use are inlined
(:mod:`lashme.i18n.critical_css`) and the stylesheet itself loads without blocking the paint,
ahead of the scripts.

``<html data-lm-auth>`` says whether the request carried a sign-in cookie (``1``/``0``): until the
session is known the header shows the visitor's buttons only when there is none
(``assets/theme.css``), and a neutral skeleton otherwise.
"""
