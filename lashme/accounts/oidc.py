"""Sign-in with an OpenID Connect provider (Google by default): authorization code flow with PKCE.

Protocol (OpenID Connect Core 1.0 §3.1, https://openid.net/specs/openid-connect-core-1_0.html;
PKCE RFC 7636; discovery https://openid.net/specs/openid-connect-discovery-1_0.html), with
Authlib's OAuth 2 client (``authlib.integrations.requests_client.OAuth2Session``) and its ID-token
claims checks (``authlib.oidc.core.CodeIDToken``, signatures by joserfc):

1. :func:`begin` — random ``state``, ``nonce`` and PKCE ``code_verifier`` (S256 challenge);
   they are kept server-side in ``oidc_logins`` under the SHA-256 of ``state`` (the browser
   holds ``state`` in an HttpOnly cookie too, binding the return to the browser that left).
2. :func:`take` — on the way back, the row is deleted (single use) and must not be expired.
3. :func:`exchange` — the code is swapped for tokens at the token endpoint (client secret +
   ``code_verifier``); the ID token's signature is checked against the provider's JWKS
   (re-fetched once on an unknown key id), then ``iss``, ``aud`` (our client id), ``exp``,
   ``iat``, ``nonce``, ``azp`` and ``at_hash``.
4. :func:`link_or_create` — the account: the one already linked to ``(issuer, sub)``; else
   the one with the same address when the provider says it is verified (``email_verified``);
   else a new verified account.  An address the provider has not verified links nothing.

Configured by ``GOOGLE_CLIENT_ID``, ``GOOGLE_CLIENT_SECRET`` and ``OIDC_ISSUER``
(``https://accounts.google.com``).  Network calls happen outside any database transaction.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import timedelta

import httpx
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from lashme.accounts import auth, roles, throttle, verification
from lashme.accounts.auth import token_hash
from lashme.errors import AuthError
from lashme.models import AuthSession, OidcLogin, User, UserIdentity, utcnow
from lashme.ops.settings import get_settings

#: seconds a browser has to come back from the provider
LOGIN_TTL = 600
#: seconds the provider's discovery document and keys are kept
METADATA_TTL = 3600
SCOPE = "openid email profile"
#: a password hash no password matches (accounts made through a provider until a reset sets one)
NO_PASSWORD = "!"
#: the refusal shown for any failure of the exchange (details go to the log only)
FAILED = "accounts.google_failed"


@dataclass(frozen=True)
class Provider:
    """The configured OpenID provider and our client registration at it."""

    issuer: str
    client_id: str
    client_secret: str


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in (from a verified ID token).

    Attributes:
        issuer: the provider (``iss``).
        subject: its stable id of the person (``sub``).
        email: the address it reports ("" when none).
        email_verified: the provider vouches for the address (``email_verified`` is true).
    """

    issuer: str
    subject: str
    email: str
    email_verified: bool


@dataclass(frozen=True)
class Pending:
    """:func:`take`'s answer: what :func:`begin` kept for the return trip."""

    nonce: str
    code_verifier: str
    next_path: str


def provider() -> Provider | None:
    """The configured provider, or None when "Sign in with Google" is not set up."""
    st = get_settings()
    if not st.google_configured:
        return None
    return Provider(
        issuer=st.oidc_issuer.rstrip("/"),
        client_id=st.google_client_id,
        client_secret=st.google_client_secret,
    )


_cache: dict[str, tuple[float, dict]] = {}
_cache_lock = threading.Lock()


def _get_json(url: str) -> dict:
    resp = httpx.get(url, timeout=10.0, follow_redirects=False)
    resp.raise_for_status()
    return resp.json()


def _cached(url: str, *, force: bool = False) -> dict:
    with _cache_lock:
        hit = _cache.get(url)
    if hit and not force and time.monotonic() - hit[0] < METADATA_TTL:
        return hit[1]
    data = _get_json(url)
    with _cache_lock:
        _cache[url] = (time.monotonic(), data)
    return data


def metadata(p: Provider) -> dict:
    """The provider's discovery document (cached :data:`METADATA_TTL` s).

    Raises:
        AuthError: :data:`FAILED` when it cannot be read or names another issuer.
    """
    try:
        meta = _cached(f"{p.issuer}/.well-known/openid-configuration")
    except (httpx.HTTPError, ValueError) as exc:
        raise AuthError(FAILED) from exc
    if str(meta.get("issuer", "")).rstrip("/") != p.issuer:
        raise AuthError(FAILED)
    return meta


def _client(p: Provider, redirect_uri: str) -> OAuth2Session:
    return OAuth2Session(
        client_id=p.client_id,
        client_secret=p.client_secret,
        scope=SCOPE,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
    )


def begin(session: Session, p: Provider, *, redirect_uri: str, next_path: str) -> tuple[str, str]:
    """Start a sign-in: keep the state, nonce and PKCE verifier; make the provider's URL.

    Args:
        session: open session (the caller commits before sending the browser away).
        p: the provider.
        redirect_uri: our callback URL, registered at the provider.
        next_path: a same-site path to open after signing in (already checked by the caller).

    Returns:
        ``(authorization_url, state)``; put ``state`` in the browser's HttpOnly cookie.

    Raises:
        AuthError: :data:`FAILED` when the provider's metadata cannot be read.
    """
    meta = metadata(p)
    state, nonce, verifier = generate_token(43), generate_token(43), generate_token(64)
    with _client(p, redirect_uri) as client:
        url, _ = client.create_authorization_url(
            meta["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier
        )
    now = utcnow()
    session.execute(delete(OidcLogin).where(OidcLogin.expires_at < now))
    session.add(
        OidcLogin(
            state_hash=token_hash(state),
            nonce=nonce,
            code_verifier=verifier,
            next_path=next_path[:300],
            created_at=now,
            expires_at=now + timedelta(seconds=LOGIN_TTL),
        )
    )
    session.flush()
    return url, state


def take(session: Session, state: str | None) -> Pending:
    """Spend the kept login of ``state`` (deleted whatever the outcome).

    Raises:
        AuthError: :data:`FAILED` for an unknown, spent or expired state.
    """
    if not state or len(state) > 128:
        raise AuthError(FAILED)
    row = session.execute(
        delete(OidcLogin)
        .where(OidcLogin.state_hash == token_hash(state))
        .returning(OidcLogin.nonce, OidcLogin.code_verifier, OidcLogin.next_path, OidcLogin.expires_at)
    ).first()
    if row is None or row[3] <= utcnow():
        raise AuthError(FAILED)
    return Pending(nonce=row[0], code_verifier=row[1], next_path=row[2])


def _decode(id_token: str, meta: dict):
    algs = meta.get("id_token_signing_alg_values_supported") or ["RS256"]
    registry = JWSRegistry(algorithms=[a for a in algs if a != "none"], strict_check_header=False)
    try:
        keys = KeySet.import_key_set(_cached(meta["jwks_uri"]))
        return jwt.decode(id_token, keys, registry=registry)
    except InvalidKeyIdError:  # the provider rotated its keys: fetch them once more
        keys = KeySet.import_key_set(_cached(meta["jwks_uri"], force=True))
        return jwt.decode(id_token, keys, registry=registry)


def verify_id_token(
    p: Provider, meta: dict, id_token: str, *, nonce: str, access_token: str | None
) -> Identity:
    """Check an ID token's signature (JWKS) and claims; return who it names.

    Raises:
        AuthError: :data:`FAILED` on any failed check.
    """
    try:
        token = _decode(id_token, meta)
        claims = CodeIDToken(
            token.claims,
            token.header,
            {"iss": {"essential": True, "value": p.issuer}, "aud": {"essential": True, "value": p.client_id}},
            {
                "nonce": nonce,
                "client_id": p.client_id,
                **({"access_token": access_token} if access_token else {}),
            },
        )
        claims.validate(leeway=120)
    except (JoseError, ValueError, KeyError, TypeError, httpx.HTTPError) as exc:
        raise AuthError(FAILED) from exc
    if not claims.get("nonce"):  # we always send one: a token without it is not an answer to our request
        raise AuthError(FAILED)
    verified = claims.get("email_verified")
    return Identity(
        issuer=p.issuer,
        subject=str(claims["sub"])[:255],
        email=str(claims.get("email") or "")[:254],
        email_verified=verified is True or str(verified).lower() == "true",
    )


def exchange(p: Provider, *, code: str, pending: Pending, redirect_uri: str) -> Identity:
    """Swap the authorization ``code`` for tokens (with the PKCE verifier) and verify the ID token.

    Raises:
        AuthError: :data:`FAILED` when the provider refuses or any check fails.
    """
    if not code or len(code) > 2048:
        raise AuthError(FAILED)
    meta = metadata(p)
    try:
        with _client(p, redirect_uri) as client:
            token = client.fetch_token(
                meta["token_endpoint"],
                grant_type="authorization_code",
                code=code,
                code_verifier=pending.code_verifier,
                timeout=10.0,
            )
    except Exception as exc:  # noqa: BLE001 - Authlib raises OAuthError, httpx errors, ValueError...
        raise AuthError(FAILED) from exc
    if not token.get("id_token"):
        raise AuthError(FAILED)
    return verify_id_token(
        p, meta, token["id_token"], nonce=pending.nonce, access_token=token.get("access_token")
    )


def link_or_create(
    session: Session,
    identity: Identity,
    *,
    signup_bonus: int,
    anon_token: str | None = None,
    ip: str | None = None,
) -> User:
    """The account ``identity`` signs in to: linked before, matched by verified address, or new.

    Linking to an account whose address was never proved (someone may have signed up with this
    address without owning it) also voids its password and ends its sessions: only the owner,
    now proved, keeps access.  Linking or creating verifies the address and grants the
    sign-up bonus once (:func:`lashme.accounts.verification.mark_verified`).

    Args:
        session: the caller's open session (the caller commits).
        identity: the verified ID token's subject and address.
        signup_bonus: the current ``signup_bonus`` price setting.
        anon_token: this browser's visitor token (its jobs move to a new account).
        ip: the caller's IP (new accounts are throttled per IP like sign-ups).

    Raises:
        AuthError: ``accounts.google_email_unverified`` (no linked account and the provider has
            not verified the address), ``auth.email_invalid`` or ``auth.blocked``.
        Throttled: ``security.signup_throttled`` (too many new accounts from ``ip``).
    """
    link = session.execute(
        select(UserIdentity).where(
            UserIdentity.issuer == identity.issuer, UserIdentity.subject == identity.subject
        )
    ).scalar_one_or_none()
    if link is not None:
        user = session.get(User, link.user_id)
        link.last_used_at = utcnow()
        session.add(link)
    else:
        if not identity.email_verified:
            raise AuthError("accounts.google_email_unverified")
        email = auth.normalize_email(identity.email)
        user = _by_email(session, email)
        if user is None:
            throttle.sign_up_attempt(ip)
            try:
                with session.begin_nested():
                    user = User(email=email, password_hash=NO_PASSWORD)
                    session.add(user)
                    session.flush()
                roles.grant_from_settings(
                    session, user, roles.parse_admin_emails(get_settings().admin_emails)
                )
            except IntegrityError:  # signed up meanwhile (another tab): link to that account
                user = _by_email(session, email)
        if not verification.is_verified(user):
            # whoever set this account's password never proved the address: only its owner keeps access
            user.password_hash = NO_PASSWORD
            session.add(user)
            session.execute(delete(AuthSession).where(AuthSession.user_id == user.id))
            verification.mark_verified(session, user, signup_bonus=signup_bonus)
        session.add(
            UserIdentity(user_id=user.id, issuer=identity.issuer, subject=identity.subject, email=email)
        )
        session.flush()
    if user is None or user.is_blocked:
        raise AuthError("auth.blocked")
    auth.claim_anonymous_jobs(session, user_id=user.id, anon_token=anon_token)
    return user


def _by_email(session: Session, email: str) -> User | None:
    return session.execute(select(User).where(User.email == email)).scalar_one_or_none()
