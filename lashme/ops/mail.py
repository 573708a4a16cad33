"""Outgoing mail: SMTP configured by environment, or a local outbox folder when none is.

Configuration (:class:`lashme.ops.settings.Settings`):

- ``SMTP_URL`` — ``smtp://user:password@host:587`` (STARTTLS, required unless
  ``SMTP_STARTTLS=false``) or ``smtps://user:password@host:465`` (TLS from the first byte);
  user and password are percent-decoded.
- or ``SMTP_HOST`` / ``SMTP_PORT`` (587) / ``SMTP_USER`` / ``SMTP_PASSWORD``, same rules as ``smtp://``
  (port 465 means implicit TLS).
- ``SMTP_CA_FILE`` — PEM CA bundle to trust instead of the system's (a private relay);
  ``MAIL_FROM`` — the ``From`` header, e.g. ``LashMe <no-reply@example.com>``.

With no SMTP configured, every message is written as an RFC 5322 ``.eml`` file into
``<data_dir>/outbox`` (mode 0600: the files hold sign-in links), and :func:`announce` says so
in the log when the app starts.  Server certificates are always verified
(``ssl.create_default_context``); the password never reaches a log.

Protocols: SMTP RFC 5321, STARTTLS RFC 3207, message format RFC 5322 via :mod:`email.message`,
``multipart/alternative`` (plain text + HTML) RFC 2046.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

from lashme.ops.settings import Settings, get_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to hand over mail.

    Attributes:
        host: the server's host name or IP.
        port: TCP port.
        security: ``"starttls"`` (upgrade after EHLO, required), ``"tls"`` (implicit TLS) or
            ``"none"`` (plain text; only when ``SMTP_STARTTLS=false``).
        user: login name, or None for no AUTH.
        password: login password (never logged).
        ca_file: PEM CA bundle to verify the server with, or None for the system's.
        timeout: seconds per socket operation.
    """

    host: str
    port: int
    security: str
    user: str | None = None
    password: str | None = None
    ca_file: str | None = None
    timeout: float = 20.0

    def __repr__(self) -> str:  # keep the password out of reprs and logs
        return f"SmtpConfig({self.security}://{self.user or ''}@{self.host}:{self.port})"


def smtp_config(settings: Settings | None = None) -> SmtpConfig | None:
    """The SMTP server from ``SMTP_URL`` or the ``SMTP_*`` settings, or None when neither is set.

    Raises:
        ValueError: ``SMTP_URL`` has another scheme than ``smtp``/``smtps`` or no host.
    """
    st = settings or get_settings()
    plain_security = "starttls" if st.smtp_starttls else "none"
    if st.smtp_url:
        url = urlsplit(st.smtp_url)
        if url.scheme not in ("smtp", "smtps") or not url.hostname:
            raise ValueError("SMTP_URL must look like smtp://user:password@host:587 or smtps://…:465")
        tls = url.scheme == "smtps"
        return SmtpConfig(
            host=url.hostname,
            port=url.port or (465 if tls else 587),
            security="tls" if tls else plain_security,
            user=unquote(url.username) if url.username else None,
            password=unquote(url.password) if url.password else None,
            ca_file=st.smtp_ca_file,
            timeout=st.smtp_timeout,
        )
    if st.smtp_host:
        return SmtpConfig(
            host=st.smtp_host,
            port=st.smtp_port,
            security="tls" if st.smtp_port == 465 else plain_security,
            user=st.smtp_user or None,
            password=st.smtp_password or None,
            ca_file=st.smtp_ca_file,
            timeout=st.smtp_timeout,
        )
    return None


def compose(
    *, to: str, subject: str, text: str, html: str | None = None, sender: str | None = None
) -> EmailMessage:
    """A ready-to-send message: plain text, plus an HTML alternative when ``html`` is given.

    Args:
        to: the recipient's address.
        subject: the ``Subject`` header (any language; encoded per RFC 2047 as needed).
        text: the plain-text body.
        html: an HTML body (already escaped by the caller), or None.
        sender: the ``From`` header (default ``MAIL_FROM``).
    """
    msg = EmailMessage()
    msg["From"] = sender or get_settings().mail_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    domain = (msg["From"].addresses[0].domain or "lashme.local") if msg["From"].addresses else "lashme.local"
    msg["Message-ID"] = make_msgid(domain=domain)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg


def _tls_context(cfg: SmtpConfig) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=cfg.ca_file)


def send_smtp(msg: EmailMessage, cfg: SmtpConfig) -> None:
    """Hand ``msg`` to the SMTP server ``cfg`` (one connection per message).

    Raises:
        smtplib.SMTPException: the server refused (``SMTPNotSupportedError`` when STARTTLS is
            required and not offered), or authentication failed.
        OSError: the server could not be reached, or its certificate did not verify.
    """
    if cfg.security == "tls":
        ctx = _tls_context(cfg)
        client: smtplib.SMTP = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout, context=ctx)
    else:
        client = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
    with client:
        client.ehlo()
        if cfg.security == "starttls":
            client.starttls(context=_tls_context(cfg))  # raises when the server does not offer it
            client.ehlo()
        if cfg.user:
            client.login(cfg.user, cfg.password or "")
        client.send_message(msg)


def write_outbox(msg: EmailMessage, folder: Path | None = None) -> Path:
    """Write ``msg`` as ``<folder>/<UTC time>-<random>.eml`` (atomically, mode 0600) and return its path."""
    folder = folder or get_settings().outbox_dir
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{datetime.now(UTC):%Y%m%dT%H%M%S.%f}-{uuid.uuid4().hex[:8]}.eml"  # sorts by time
    path = folder / name
    tmp = folder / f".{name}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(msg.as_bytes())
    os.replace(tmp, path)
    return path


def send(msg: EmailMessage) -> str:
    """Deliver ``msg`` now: to the configured SMTP server, else into the outbox folder.

    Returns:
        ``"smtp"``, or the path of the ``.eml`` file written.

    Raises:
        smtplib.SMTPException, OSError: delivery failed (see :func:`send_smtp`).
    """
    cfg = smtp_config()
    domain = str(msg["To"]).rpartition("@")[2]
    if cfg is None:
        path = write_outbox(msg)
        log.info("mail written to the outbox", extra={"path": str(path), "to_domain": domain})
        return str(path)
    send_smtp(msg, cfg)
    log.info("mail sent", extra={"smtp_host": cfg.host, "to_domain": domain})
    return "smtp"


@lru_cache(maxsize=1)
def _executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="lashme-mail")


def _send_logged(msg: EmailMessage) -> str | None:
    try:
        return send(msg)
    except (smtplib.SMTPException, OSError, ValueError) as exc:
        log.error("mail delivery failed: %s", type(exc).__name__, extra={"subject": str(msg["Subject"])})
        return None


def send_later(msg: EmailMessage) -> Future:
    """Deliver ``msg`` on a background thread (at most once; a failure is logged, not raised).

    Used where the answer must not wait for, or reveal, a delivery (password-reset
    requests answer alike whether or not an account exists).

    Returns:
        A future of :func:`send`'s result (None when delivery failed).
    """
    return _executor().submit(_send_logged, msg)


def describe(settings: Settings | None = None) -> str:
    """One line naming where mail goes (no secrets): ``smtp starttls://host:587`` or ``outbox <folder>``."""
    st = settings or get_settings()
    cfg = smtp_config(st)
    if cfg is None:
        return f"outbox {st.outbox_dir.resolve()}"
    return f"smtp {cfg.security}://{cfg.host}:{cfg.port}"


def announce() -> None:
    """Log where mail goes; a warning when it only lands in the local outbox folder."""
    where = describe()
    if where.startswith("outbox"):
        log.warning(
            "no SMTP server configured (SMTP_URL or SMTP_HOST): emails are written to the outbox folder %s",
            where.removeprefix("outbox "),
        )
    else:
        log.info("mail goes to %s", where)
