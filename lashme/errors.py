"""Domain errors that carry a user-facing message key.

Every error the core raises for a user to read is a :class:`DomainError`
with a stable ``key`` (a message id of the Babel catalogs in ``lashme.i18n``, the only
place user-facing words live) and format parameters.  Clients show
``lashme.i18n.error_text(err, locale)``; ``str(err)`` is the English text (logs);
logs and tests match on ``err.key``.
"""

from __future__ import annotations

from lashme import i18n


class DomainError(Exception):
    """An error a user can read.

    Args:
        key: catalog message id (e.g. ``"upload.too_large"``).
        **params: values for the message's ``{placeholders}``.

    ``str(error)`` is the English message; an unknown key falls back to the key.
    """

    def __init__(self, key: str, **params: object) -> None:
        self.key = key
        self.params = params
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """The formatted English message for ``key`` (the key itself when no catalog has it)."""
        return i18n.translate(self.key, i18n.SOURCE_LOCALE, **self.params)


class UploadRejected(DomainError):
    """An uploaded file failed validation; nothing was stored."""


class AuthError(DomainError):
    """Sign-up, sign-in or authorization failed."""


class NotFound(DomainError):
    """The object does not exist or does not belong to the caller."""


class InsufficientCredits(DomainError):
    """The balance is too low for the requested spend; nothing was charged."""

    def __init__(self, key: str = "credits.insufficient", **params: object) -> None:
        super().__init__(key, **params)


class LinkInvalid(DomainError):
    """A signed file URL was tampered with or has expired."""


class Throttled(DomainError):
    """Too many attempts of one action (``lashme.accounts.throttle``); ``params['minutes']`` says when to try again."""
