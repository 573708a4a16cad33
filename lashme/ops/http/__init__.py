"""HTTP hardening of the backend: one ASGI wrapper around everything Reflex serves, and its parts.

- :mod:`~lashme.ops.http.guard` — :func:`~lashme.ops.http.guard.protect`, the wrapper
  (``rx.App(api_transformer=[…, protect])``): origin checks, upload throttle, body caps and
  security headers, in that order (its docstring says how and why).
- :mod:`~lashme.ops.http.origins` — which origins are the app's own (``cors_origins`` for
  ``rxconfig.py``, ``origin_allowed``, ``is_https``).
- :mod:`~lashme.ops.http.limits` — body caps, and which requests are photo uploads.
- :mod:`~lashme.ops.http.csp` — the security headers and the page Content-Security-Policy with
  its inline-script hashes.
- :mod:`~lashme.ops.http.asgi` — the ASGI types and request-header reading they share.
"""
