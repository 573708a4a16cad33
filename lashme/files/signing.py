"""The one signer of expiring links: local-storage file URLs and user-bound download links.

Built on itsdangerous (``itsdangerous.Signer``: HMAC-SHA256 with a key derived
per purpose from the secret and a salt, base64url signature without padding,
constant-time comparison).  A link signs a purpose, its parts and an absolute
expiry (epoch seconds) together::

    signature = Signer(secret, salt="lashme.link." + purpose, digest_method=sha256)
                .get_signature(json([parts..., expires]))

The parts are JSON-encoded, so no choice of key, name or id can make two
different links share a message; the purpose (salt) keeps a signature for
one kind of link from ever validating another.  The caller puts the expiry
in the URL next to the signature; :meth:`LinkSigner.check` refuses a
tampered link before it looks at the expiry, so an expired-but-forged link is
reported as invalid, not as expired.
"""

from __future__ import annotations

import hashlib
import json
import time

from itsdangerous import Signer

from lashme.errors import LinkInvalid


class LinkSigner:
    """Signs and checks the links of one ``purpose`` with ``secret``.

    Args:
        secret: the HMAC secret (``LASHME_SECRET_KEY`` / ``data/secret_key``); the same on every app server.
        purpose: what the links are for (``files``, ``zip``, ``variant-full``, ...); a signature made
            for one purpose never validates for another.
    """

    def __init__(self, secret: bytes, purpose: str) -> None:
        self._signer = Signer(
            secret, salt=f"lashme.link.{purpose}", digest_method=hashlib.sha256, key_derivation="hmac"
        )

    @staticmethod
    def _message(parts: tuple[str | int, ...], expires: int) -> bytes:
        return json.dumps([*parts, expires], separators=(",", ":"), ensure_ascii=False).encode()

    def sign(self, *parts: str | int, expires: int) -> str:
        """The signature (43 base64url characters) of ``parts`` valid until ``expires`` (epoch seconds)."""
        return self._signer.get_signature(self._message(parts, int(expires))).decode()

    def check(self, *parts: str | int, expires: str | int, signature: str, now: float | None = None) -> int:
        """Verify a link's signature, then its expiry; returns the expiry as an int.

        Args:
            parts: the signed parts as found in the link (same order as at signing).
            expires: the link's expiry value (epoch seconds, usually a query string).
            signature: the link's signature value.
            now: the current time (tests); defaults to ``time.time()``.

        Raises:
            LinkInvalid: ``files.link_invalid`` (malformed or tampered) or ``files.link_expired``.
        """
        try:
            exp = int(expires)
        except (TypeError, ValueError):
            raise LinkInvalid("files.link_invalid") from None
        if not signature or not self._signer.verify_signature(self._message(parts, exp), signature.encode()):
            raise LinkInvalid("files.link_invalid")
        if exp < (time.time() if now is None else now):
            raise LinkInvalid("files.link_expired")
        return exp
