"""REST API v1: a second client of :mod:`lashme.app`, for masters' own tools (bots, booking sites, apps).

Mounted on the Reflex backend at ``/api/v1`` (FastAPI; OpenAPI at ``/api/v1/openapi.json``,
docs at ``/api/v1/docs``).  Routes parse input, build a :class:`lashme.app.caller.Caller`
from a personal access token, call one use-case and render its view; they import
neither Reflex nor the database.  Errors are RFC 9457 ``application/problem+json``
in the caller's language.
"""
