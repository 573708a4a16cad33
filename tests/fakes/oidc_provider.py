"""A real OpenID Connect provider on loopback (``oidc-provider-mock``, Authlib's server) for the Google flow.

It serves discovery, an authorization form (type a ``sub`` and press Authorize), the token
endpoint, JWKS and userinfo; it signs RS256 ID tokens with its own key and requires a nonce.
Users' claims (``email``, ``email_verified``) are set with :meth:`OidcProvider.set_user`.
Any client id/secret is accepted.  The issuer is ``http://127.0.0.1:<port>``.
"""

from __future__ import annotations

import threading
from urllib.parse import parse_qs, urlsplit

import httpx
import oidc_provider_mock
import werkzeug.serving

CLIENT_ID, CLIENT_SECRET = "lashme-test-client", "lashme-test-secret"


class OidcProvider:
    """``oidc_provider_mock.app(require_nonce=True)`` served by werkzeug on 127.0.0.1 in a thread."""

    def __init__(self) -> None:
        app = oidc_provider_mock.app(require_nonce=True, issue_refresh_token=False)
        self.server = werkzeug.serving.make_server("127.0.0.1", 0, app, threaded=True)
        self.issuer = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1})

    def __enter__(self) -> OidcProvider:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self._thread.join(5)
        self.server.server_close()

    def env(self) -> dict[str, str]:
        """Settings that make the app use this provider as "Google"."""
        return {
            "GOOGLE_CLIENT_ID": CLIENT_ID,
            "GOOGLE_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_ISSUER": self.issuer,
        }

    def set_user(self, sub: str, *, email: str, email_verified: bool = True) -> None:
        """Create or replace the person ``sub`` with these claims."""
        r = httpx.put(f"{self.issuer}/users/{sub}", json={"email": email, "email_verified": email_verified})
        r.raise_for_status()

    def authorize(self, authorization_url: str, sub: str) -> str:
        """Do what a person does on the provider's page (submit ``sub``); return our callback URL it redirects to."""
        r = httpx.post(authorization_url, data={"sub": sub}, follow_redirects=False)
        assert r.status_code in (302, 303), r.text[:500]
        return r.headers["location"]


def query_of(url: str) -> dict[str, str]:
    """A URL's query parameters (first value of each)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
