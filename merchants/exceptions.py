"""The merchants app's domain errors: onboarding, API keys and Idempotency-Key."""

from core.exceptions import DomainError


class OnboardingIncomplete(DomainError):
    code = "onboarding_incomplete"
    status = 409
    title = "The onboarding checklist is not complete."


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


class LastOwner(DomainError):
    code = "last_owner"
    status = 409
    title = "A merchant's portal keeps at least one owner."


class AlreadyOnTeam(DomainError):
    code = "already_on_team"
    status = 409
    title = "That person is already on the merchant's portal team."


class NoFeePlan(DomainError):
    code = "no_fee_plan"
    status = 409
    title = "The merchant has no fee plan for that month."


class InvalidPeriod(DomainError):
    code = "invalid_period"
    status = 400
    title = "That is not a month that can be invoiced."


class BillingProfileMissing(DomainError):
    code = "billing_profile_missing"
    status = 409
    title = "The merchant has no billing profile."


class UsageCurrencyMismatch(DomainError):
    code = "usage_currency_mismatch"
    status = 409
    title = "Some usage records are in another currency than the fee plan."


class CreditExceedsInvoice(DomainError):
    code = "credit_exceeds_invoice"
    status = 409
    title = "The credit is more than what is left to credit on the invoice."


class UnsafeWebhookURL(DomainError):
    code = "unsafe_webhook_url"
    status = 400
    title = "Webhooks cannot be sent to that address."


class UnknownEventType(DomainError):
    code = "unknown_event_type"
    status = 400
    title = "Unknown webhook event type."


class ViewAsNotAllowed(DomainError):
    code = "view_as_not_allowed"
    status = 403
    title = "Only staff with the right may view a merchant's portal."
