"""One settings object for web, worker and CLI (pydantic-settings).

Every field can be set from the environment (``DATABASE_URL``, ``REDIS_URL``,
``FAL_KEY``, ``LASHME_DATA_DIR`` ...) or a ``.env`` file.  With nothing set,
the app runs on one machine: SQLite and local file storage under
``data_dir``, a signing secret generated once and kept in ``data_dir``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration.  Sizes are bytes, times are seconds."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("data"), validation_alias=AliasChoices("LASHME_DATA_DIR", "DATA_DIR"))
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    redis_url: str | None = Field(default=None, validation_alias="REDIS_URL")
    secret_key: str | None = Field(default=None, validation_alias="LASHME_SECRET_KEY")
    queue_name: str = Field(default="lashme", validation_alias="LASHME_QUEUE")

    # uploads
    max_upload_bytes: int = 10 * 1024 * 1024
    max_upload_pixels: int = 40_000_000
    min_upload_side: int = 256

    # generation
    provider: str | None = Field(default=None, validation_alias="LASHME_PROVIDER")
    fal_key: str | None = Field(default=None, validation_alias="FAL_KEY")
    job_max_attempts: int = Field(default=3, validation_alias="LASHME_JOB_MAX_ATTEMPTS")
    job_timeout: int = Field(default=600, validation_alias="LASHME_JOB_TIMEOUT")

    # payments (Stripe Checkout); prices and packs live in the database (lashme.credits.pricing)
    stripe_secret_key: str | None = Field(default=None, validation_alias="STRIPE_SECRET_KEY")
    stripe_webhook_secret: str | None = Field(default=None, validation_alias="STRIPE_WEBHOOK_SECRET")
    #: API base override (a Stripe-compatible server such as a local stand-in); default Stripe's
    stripe_api_base: str | None = Field(default=None, validation_alias="STRIPE_API_BASE")
    #: public origin of the app for Checkout return URLs, e.g. ``https://lashme.app``
    #: (default: the origin the browser used)
    public_url: str | None = Field(default=None, validation_alias="LASHME_PUBLIC_URL")
    # fal.ai provider (lashme.providers.fal); prices in USD
    fal_price_per_image: float = Field(default=0.03, validation_alias="LASHME_FAL_PRICE_PER_IMAGE")
    fal_deadline: int = Field(default=600, validation_alias="LASHME_FAL_DEADLINE")
    fal_poll_interval: float = Field(default=1.0, validation_alias="LASHME_FAL_POLL_INTERVAL")
    fal_http_attempts: int = Field(default=2, validation_alias="LASHME_FAL_HTTP_ATTEMPTS")
    fal_input_max_side: int = 1536
    fal_download_timeout: float = 30.0
    fal_output_max_bytes: int = Field(default=50 * 2**20, validation_alias="LASHME_FAL_OUTPUT_MAX_BYTES")
    fal_webhook_url: str | None = Field(default=None, validation_alias="LASHME_FAL_WEBHOOK_URL")
    fal_jwks_url: str = Field(
        default="https://rest.alpha.fal.ai/.well-known/jwks.json", validation_alias="LASHME_FAL_JWKS_URL"
    )
    fal_jwks_ttl: int = Field(default=24 * 3600, validation_alias="LASHME_FAL_JWKS_TTL")
    #: our fal account's user id: when set, webhooks signed for any other fal account are refused
    fal_user_id: str | None = Field(default=None, validation_alias="LASHME_FAL_USER_ID")

    # signed file URLs
    url_ttl: int = Field(default=3600, validation_alias="LASHME_URL_TTL")
    download_ttl: int = Field(default=300, validation_alias="LASHME_DOWNLOAD_TTL")

    session_days: int = 30
    #: emails that become super admins when they sign up (comma-separated); see ``lashme.accounts.roles``
    admin_emails: str = Field(default="", validation_alias="ADMIN_EMAILS")

    # S3-compatible storage (AWS S3, Cloudflare R2, MinIO); used when S3_BUCKET is set
    s3_bucket: str | None = Field(default=None, validation_alias="S3_BUCKET")
    s3_endpoint_url: str | None = Field(default=None, validation_alias="S3_ENDPOINT_URL")
    s3_public_endpoint_url: str | None = Field(default=None, validation_alias="S3_PUBLIC_ENDPOINT_URL")
    s3_region: str = Field(default="auto", validation_alias="S3_REGION")
    s3_access_key_id: str | None = Field(default=None, validation_alias="S3_ACCESS_KEY_ID")
    s3_secret_access_key: str | None = Field(default=None, validation_alias="S3_SECRET_ACCESS_KEY")
    s3_addressing_style: str = Field(default="path", validation_alias="S3_ADDRESSING_STYLE")

    # lost and stuck jobs (lashme.jobs.sweeper); RQ's defaults are 30 s and 60 s
    # recovery within ~12 s of a worker's death (issue 17): beat 3 s + grace 6 s + one 3 s sweep
    sweep_interval: float = Field(default=3, validation_alias="LASHME_SWEEP_INTERVAL")
    sweep_grace: int = Field(default=60, validation_alias="LASHME_SWEEP_GRACE")
    worker_monitoring_interval: int = Field(default=3, validation_alias="LASHME_WORKER_MONITORING_INTERVAL")
    worker_heartbeat_grace: int = Field(default=6, validation_alias="LASHME_WORKER_HEARTBEAT_GRACE")
    worker_scheduler: bool = Field(default=True, validation_alias="LASHME_WORKER_SCHEDULER")

    # retention (lashme.jobs.retention)
    anon_retention_hours: float = Field(default=24, validation_alias="LASHME_ANON_RETENTION_HOURS")
    user_retention_days: float = Field(default=90, validation_alias="LASHME_USER_RETENTION_DAYS")

    # mail (lashme.ops.mail): SMTP_URL (smtp:// = STARTTLS, smtps:// = TLS) or the SMTP_* parts;
    # with neither, messages are written as .eml files into <data_dir>/outbox
    smtp_url: str | None = Field(default=None, validation_alias="SMTP_URL")
    smtp_host: str | None = Field(default=None, validation_alias="SMTP_HOST")
    smtp_port: int = Field(default=587, validation_alias="SMTP_PORT")
    smtp_user: str | None = Field(default=None, validation_alias="SMTP_USER")
    smtp_password: str | None = Field(default=None, validation_alias="SMTP_PASSWORD")
    #: STARTTLS is required on smtp:// unless this is false (a trusted relay on the same host only)
    smtp_starttls: bool = Field(default=True, validation_alias="SMTP_STARTTLS")
    #: a PEM file of CA certificates to trust for the SMTP server (default: the system's)
    smtp_ca_file: str | None = Field(default=None, validation_alias="SMTP_CA_FILE")
    smtp_timeout: float = Field(default=20.0, validation_alias="SMTP_TIMEOUT")
    mail_from: str = Field(default="LashMe <no-reply@lashme.local>", validation_alias="MAIL_FROM")
    # accounts (lashme.accounts.email_tokens, lashme.accounts.oidc); times in seconds
    password_reset_ttl: int = Field(default=3600, validation_alias="LASHME_PASSWORD_RESET_TTL")
    email_verify_ttl: int = Field(default=72 * 3600, validation_alias="LASHME_EMAIL_VERIFY_TTL")
    google_client_id: str | None = Field(default=None, validation_alias="GOOGLE_CLIENT_ID")
    google_client_secret: str | None = Field(default=None, validation_alias="GOOGLE_CLIENT_SECRET")
    oidc_issuer: str = Field(default="https://accounts.google.com", validation_alias="OIDC_ISSUER")

    # logs (lashme.ops.logging_setup): "json" or "console"
    log_format: str = Field(default="json", validation_alias="LASHME_LOG_FORMAT")
    log_level: str = Field(default="INFO", validation_alias="LASHME_LOG_LEVEL")

    @property
    def resolved_database_url(self) -> str:
        """``DATABASE_URL`` or a SQLite file ``<data_dir>/lashme.ops.db``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'lashme.ops.db').resolve()}"

    @property
    def storage_dir(self) -> Path:
        """Root folder of the local storage backend."""
        return self.data_dir / "storage"

    @property
    def provider_name(self) -> str:
        """``LASHME_PROVIDER`` if set, else ``fal`` when ``FAL_KEY`` is set, else ``studio``."""
        if self.provider:
            return self.provider
        return "fal" if self.fal_key else "studio"

    @property
    def outbox_dir(self) -> Path:
        """Folder of the mail outbox (``.eml`` files) used when no SMTP server is configured."""
        return self.data_dir / "outbox"

    @property
    def google_configured(self) -> bool:
        """True when "Sign in with Google" is set up (``GOOGLE_CLIENT_ID`` and ``GOOGLE_CLIENT_SECRET``)."""
        return bool(self.google_client_id and self.google_client_secret)

    def signing_key(self) -> bytes:
        """HMAC key for signed URLs and session tokens.

        ``LASHME_SECRET_KEY`` if set; otherwise a random key created once in
        ``<data_dir>/secret_key`` (file mode 0600) and reused by every process
        that shares the data folder.
        """
        if self.secret_key:
            return self.secret_key.encode()
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{secrets.token_hex(4)}")
            tmp.write_text(secrets.token_urlsafe(48))
            tmp.chmod(0o600)
            try:
                with contextlib.suppress(FileExistsError):
                    os.link(tmp, path)  # atomic: the first process to create it wins
            finally:
                tmp.unlink()
        return path.read_text().strip().encode()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once; ``get_settings.cache_clear()`` in tests)."""
    return Settings()
