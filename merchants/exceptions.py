"""Domain errors. Every app's errors derive from ``DomainError``; the API maps each one to a
problem document with its ``code`` and ``status`` (see ``merchants.api.errors``)."""

from typing import Any


class DomainError(Exception):
    code = "domain_error"
    status = 400
    title = "The request could not be carried out."
    # Seconds after which the same request may succeed: sent as ``Retry-After``.
    retry_after: int | None = None

    def __init__(self, detail: str | None = None, *, field: str | None = None, **extra: Any):
        self.detail = detail or self.title
        self.field = field
        self.extra = extra
        super().__init__(self.detail)


class NotFound(DomainError):
    code = "not_found"
    status = 404
    title = "Not found."


class InvalidTransition(DomainError):
    code = "invalid_transition"
    status = 409
    title = "That status change is not allowed."


class OnboardingIncomplete(DomainError):
    code = "onboarding_incomplete"
    status = 409
    title = "The onboarding checklist is not complete."


class ReasonRequired(DomainError):
    code = "reason_required"
    status = 400
    title = "A reason is required."


class InvalidScope(DomainError):
    code = "invalid_scope"
    status = 400
    title = "Unknown API key scope."


class MerchantNotActive(DomainError):
    code = "merchant_not_active"
    status = 403
    title = "The merchant is not active."


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"
    status = 409
    title = "That Idempotency-Key was used with a different request."


class IdempotencyKeyInProgress(DomainError):
    code = "idempotency_key_in_progress"
    status = 409
    title = "A request with that Idempotency-Key is still being processed."
    retry_after = 2


class InvalidIdempotencyKey(DomainError):
    code = "invalid_idempotency_key"
    status = 400
    title = "Invalid Idempotency-Key header."
