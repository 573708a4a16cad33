"""Domain errors that carry a user-facing message key.

Every error the core raises for a user to read is a :class:`DomainError`
with a stable ``key`` (looked up in :data:`MESSAGES`, translated through the gettext
catalogs in ``lashme.i18n``) and format parameters.  The UI shows ``str(err)``; logs and tests
match on ``err.key``.
"""

from __future__ import annotations

MESSAGES: dict[str, str] = {
    # uploads
    "upload.empty": "The file is empty. Please choose a photo.",
    "upload.too_large": "The photo is larger than {max_mb} MB. Please choose a smaller file.",
    "upload.not_image": "This file is not a photo we can read. Please upload a JPEG, PNG, WebP or HEIC image.",
    "upload.bad_format": "{format} files are not supported. Please upload a JPEG, PNG, WebP or HEIC image.",
    "upload.too_many_pixels": "The photo has more than {max_mp} megapixels. Please upload a smaller photo.",
    "upload.too_small": "The photo is too small: the short side must be at least {min_side} px.",
    # auth
    "auth.email_invalid": "Please enter a valid email address.",
    "auth.email_taken": "An account with this email already exists. Please sign in.",
    "auth.password_weak": "The password needs at least 8 characters with an upper-case letter, a lower-case letter and a digit.",
    "auth.bad_credentials": "Wrong email or password.",
    "auth.required": "Please sign in first.",
    "auth.blocked": "This account is blocked. Please contact support.",
    # jobs and variants
    "job.not_found": "This job does not exist or is not yours.",
    "job.not_done": "This job is not finished yet.",
    "job.busy": "This job is still running. Cancel it or wait until it finishes.",
    "job.not_retryable": "Only a job that failed can be retried.",
    "variant.not_found": "This variant does not exist or is not yours.",
    "variant.not_ready": "This variant is not ready yet.",
    "gallery.nothing_unlocked": "Unlock at least one variant of this job first.",
    # credits
    "credits.insufficient": "Not enough credits. Buy a credit pack to unlock this variant.",
    "credits.insufficient_generation": "Not enough credits — enhancing a photo costs {cost}. Buy a credit pack to continue.",
    "credits.pack_not_found": "This credit pack is not on sale any more.",
    "limits.daily_reached": "You have used all {limit} free photos for today. The limit resets in {resets_in} (at {resets_at}).",
    "throttle.too_many": "Too many attempts. Please try again in {minutes} min.",
    # payments
    "payments.not_configured": "Payments are not configured yet, so credit packs cannot be bought right now.",
    "payments.unavailable": "The payment service did not answer. Please try again in a minute.",
    "payments.not_found": "We could not find this payment.",
    "payments.not_paid": "The payment has not been completed yet. Your credits will appear as soon as it is.",
    # generation failures shown on failed jobs
    "generation.failed": "We could not enhance this photo. Please try again.",
    "generation.original_missing": "The uploaded photo is no longer available. Please upload it again.",
    "generation.storage_failed": "We could not save the results. Please try again.",
    "generation.queue_unavailable": "The service is busy right now. Please try again in a minute.",
    "generation.all_filtered": "All four results were held back by the safety filter. Please try a different photo.",
    "generation.rejected": "The enhancement service could not process this photo. Please try a different photo.",
    "generation.timed_out": "Enhancing took too long and was stopped. Please try again.",
    "generation.bad_output": "The enhancement service returned unusable results. Please try again.",
    "job.retry_limit": "This photo has been retried too many times. Please upload it again.",
    "job.not_cancelable": "This job is already finished and cannot be canceled.",
    "generation.timeout": "Enhancing this photo took too long. Please try again.",
    "generation.interrupted": "Enhancing this photo was interrupted. Please try again.",
    "generation.no_active_presets": "Photo enhancement is paused right now. Please try again later.",
    # admin
    "admin.forbidden": "This page is for LashMe staff only.",
    "admin.super_required": "Only a super admin can do this.",
    "admin.reason_required": "Please give a reason.",
    "admin.bad_amount": "Enter a whole number of credits other than zero (at most {max} at once).",
    "admin.self_action": "You cannot do this to your own account.",
    "admin.user_not_found": "There is no such user.",
    "admin.insufficient": "Available credits: {available}. A removal cannot take the balance below zero.",
    # admin: jobs and presets
    "admin.jobs.not_found": "There is no such job.",
    "admin.jobs.bad_filter": "One of the filters is not valid. Please check it.",
    "admin.jobs.nothing_to_refund": "Nothing to refund: the owner was not charged for this job, or every charge has already been refunded.",
    "admin.jobs.reason_too_long": "The reason may have at most {max} characters.",
    "admin.presets.unknown": "There is no such preset.",
    "admin.presets.version_not_found": "There is no such preset version.",
    "admin.presets.bad_strength": "Strength must be a number from 0 to 1.",
    "admin.presets.prompt_required": "Please enter a prompt.",
    "admin.presets.prompt_too_long": "The prompt may have at most {max} characters.",
    "admin.presets.params_not_object": "Parameters must be a JSON object: parameter names in quotes with their values.",
    "admin.presets.bad_param": "The parameter {name} is not allowed for this provider, or its value is out of range.",
    "admin.presets.bad_model": "Enter a valid model id (letters, digits and . _ - /).",
    "admin.presets.already_off": "This preset is already switched off.",
    # files
    "files.link_invalid": "This link is not valid.",
    "files.link_expired": "This link has expired. Please reload the page.",
    # admin: pricing, payments, stats
    "admin.pricing.unknown_key": "There is no such price or limit.",
    "admin.pricing.bad_value": "Enter a whole number from {min} to {max}.",
    "admin.pricing.bad_credits": "A pack must have a whole number of credits from {min} to {max}.",
    "admin.pricing.bad_price": "Enter a price greater than zero, for example 18.00.",
    "admin.pricing.bad_currency": "Choose one of these currencies: {allowed}.",
    "admin.pricing.bad_code": "The pack code must be 1–32 lower-case Latin letters, digits or underscores.",
    "admin.pricing.code_taken": "A pack with the code {code} already exists.",
    "admin.pricing.bad_sort": "The position must be a whole number from {min} to {max}.",
    "admin.pricing.bad_flag": "This on/off value is not valid.",
    "admin.pricing.pack_not_found": "There is no such credit pack.",
    "admin.payments.bad_filter": "This filter value is not valid.",
    "admin.stats.bad_range": "Choose 7, 30 or 90 days.",
}


class DomainError(Exception):
    """An error a user can read.

    Args:
        key: message key from :data:`MESSAGES` (e.g. ``"upload.too_large"``).
        **params: values for the message's ``{placeholders}``.

    ``str(error)`` is the English message; an unknown key falls back to the key.
    """

    def __init__(self, key: str, **params: object) -> None:
        self.key = key
        self.params = params
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """The formatted English message for ``key``."""
        template = MESSAGES.get(self.key, self.key)
        try:
            return template.format(**self.params)
        except (KeyError, IndexError):
            return template


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
