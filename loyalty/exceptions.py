from core.exceptions import DomainError


class InsufficientPoints(DomainError):
    code = "insufficient_points"
    status = 409
    title = "The member does not have enough points."


class ExchangeRateMissing(DomainError):
    code = "exchange_rate_missing"
    status = 422
    title = "No exchange rate for that currency."


class NoActiveProgram(DomainError):
    code = "no_active_program"
    status = 409
    title = "The merchant has no active program."


class IdempotencyConflict(DomainError):
    code = "idempotency_conflict"
    status = 409
    title = "That external_id was already used with a different body."


class MemberNotActive(DomainError):
    code = "member_not_active"
    status = 409
    title = "The member is blocked or anonymised."


class RefundExceedsOrder(DomainError):
    code = "refund_exceeds_order"
    status = 422
    title = "The refunds would exceed the order total."


class InvalidAdjustment(DomainError):
    code = "invalid_adjustment"
    status = 400
    title = "Invalid points adjustment."


class SpendAlreadyRefunded(DomainError):
    code = "spend_already_refunded"
    status = 409
    title = "Those points were already given back."


class CursorExpired(DomainError):
    code = "cursor_expired"
    status = 410
    title = "Changes after this cursor are no longer kept."


class ReferralCodeUnknown(DomainError):
    code = "referral_code_unknown"
    status = 400
    title = "No such referral code."


class ReferralRefused(DomainError):
    code = "referral_refused"
    status = 422
    title = "That referral cannot be made."
