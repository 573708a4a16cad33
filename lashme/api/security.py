"""Who an API request acts for: ``Authorization: Bearer <personal access token>``.

Tokens are made on the account page (``/account``) and checked by
:func:`lashme.app.api_tokens.caller_for_token`.  ``read`` tokens may call GET routes;
``write`` is needed for everything that changes something.  Each token is rate-limited
(:data:`API_RATE`, ``limits`` moving windows, counted before the work).
"""

from __future__ import annotations

import os
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from lashme.accounts import throttle
from lashme.api.problems import ApiProblem
from lashme.app.api_tokens import TokenCaller, caller_for_token

#: requests per token (limits' notation)
API_RATE = os.environ.get("LASHME_API_RATE", "120/minute;5000/hour")
_bearer = HTTPBearer(auto_error=False, description="A personal access token from the account page (lm_…)")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="lashme"'}


def client_ip(request: Request) -> str | None:
    """The peer's address (behind a proxy, the app server's ``--forwarded-allow-ips`` decides)."""
    return request.client.host if request.client else None


def token_caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> TokenCaller:
    """The authenticated caller of a request (any scope); rate-limited per token.

    Raises:
        ApiProblem: 401 without a valid token.
        Throttled: 429 over :data:`API_RATE`.
    """
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiProblem(401, "api.unauthorized", headers=_CHALLENGE)
    found = caller_for_token(
        credentials.credentials,
        accept_language=request.headers.get("accept-language", ""),
        ip=client_ip(request),
    )
    if found is None:
        raise ApiProblem(401, "api.token_invalid", headers=_CHALLENGE)
    throttle.hit("api", str(found.token_id), API_RATE)
    return found


def reader(found: Annotated[TokenCaller, Depends(token_caller)]) -> TokenCaller:
    """A caller whose token may read (every token)."""
    return found


def writer(found: Annotated[TokenCaller, Depends(token_caller)]) -> TokenCaller:
    """A caller whose token may write.

    Raises:
        ApiProblem: 403 ``api.scope_write`` for a read-only token.
    """
    if "write" not in found.scopes:
        raise ApiProblem(403, "api.scope_write")
    return found
