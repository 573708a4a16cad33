"""ASGI plumbing of the backend's HTTP guard: the message types and reading a request header."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def header(scope: Scope, name: bytes) -> str | None:
    """Header ``name``'s (lower-case bytes) first value in ``scope``, latin-1 decoded; None when absent."""
    for key, value in scope.get("headers") or ():
        if key == name:
            return value.decode("latin-1")
    return None
