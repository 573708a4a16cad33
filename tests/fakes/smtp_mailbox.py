"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for the mail tests.

It speaks ESMTP with STARTTLS (required before AUTH and MAIL) using a certificate from a private
test CA (``ca_file`` is what the app trusts through ``SMTP_CA_FILE``), and accepts AUTH PLAIN/LOGIN
for one user.  ``env()`` gives the settings that point the app at it.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

USER, PASSWORD = "lashme-mailer", "s3cret p@ss"


def make_test_certs(folder: Path) -> tuple[Path, Path, Path]:
    """A private CA and a server certificate for 127.0.0.1/localhost signed by it: (ca, cert, key) PEM paths."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "LashMe test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return ca_path, cert_path, key_path


class _Handler:
    def __init__(self, box: SmtpMailbox) -> None:
        self.box = box

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        msg = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        with self.box.lock:
            self.box.received.append(
                {
                    "from": envelope.mail_from,
                    "to": list(envelope.rcpt_tos),
                    "message": msg,
                    "tls": session.ssl is not None,
                    "auth": session.authenticated,
                }
            )
        return "250 Message accepted for delivery"


class SmtpMailbox:
    """An aiosmtpd server on 127.0.0.1 (STARTTLS required, AUTH for :data:`USER`) collecting messages."""

    def __init__(self, folder: Path) -> None:
        from lashme.ops.redis_server import free_port

        self.ca_file, cert, key = make_test_certs(folder)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        self.port = free_port()
        self.received: list[dict] = []
        self.lock = threading.Lock()
        self.logins: list[str] = []
        self.controller = Controller(
            _Handler(self),
            hostname="127.0.0.1",
            port=self.port,
            tls_context=ctx,
            require_starttls=True,
            authenticator=self._authenticate,
            auth_required=True,
            auth_require_tls=True,
        )

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            USER.encode(),
            PASSWORD.encode(),
        )
        if ok:
            self.logins.append(mechanism)
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

    def __enter__(self) -> SmtpMailbox:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

    def env(self) -> dict[str, str]:
        """Environment that points the app at this server (``SMTP_URL`` with a percent-encoded password)."""
        from urllib.parse import quote

        return {
            "SMTP_URL": f"smtp://{USER}:{quote(PASSWORD, safe='')}@127.0.0.1:{self.port}",
            "SMTP_CA_FILE": str(self.ca_file),
            "MAIL_FROM": "LashMe <no-reply@lashme.test>",
        }

    def messages_to(self, address: str) -> list[EmailMessage]:
        """Every message received for ``address`` so far, oldest first."""
        with self.lock:
            return [r["message"] for r in self.received if address in r["to"]]

    def wait_for(self, address: str, *, count: int = 1, timeout: float = 20.0) -> EmailMessage:
        """The ``count``-th message to ``address``, polling until it arrives.

        Raises:
            TimeoutError: it did not arrive in ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.messages_to(address)
            if len(got) >= count:
                return got[count - 1]
            time.sleep(0.05)
        raise TimeoutError(f"no message #{count} for {address} within {timeout} s")


def text_of(msg: EmailMessage) -> str:
    """The plain-text body of a message."""
    return msg.get_body(preferencelist=("plain",)).get_content()


def html_of(msg: EmailMessage) -> str:
    """The HTML body of a message."""
    return msg.get_body(preferencelist=("html",)).get_content()


def link_in(msg: EmailMessage, path: str) -> str:
    """The first URL in the plain-text body whose path is ``path`` (e.g. ``/reset-password``)."""
    import re

    for url in re.findall(r"https?://\S+", text_of(msg)):
        if path + "?" in url:
            return url
    raise AssertionError(f"no {path} link in:\n{text_of(msg)}")
