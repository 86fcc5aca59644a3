"""Domain errors. Every app's errors derive from ``DomainError``; the API maps each one to a
problem document with its ``code`` and ``status`` (see ``core.api.errors``)."""

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


class ReasonRequired(DomainError):
    code = "reason_required"
    status = 400
    title = "A reason is required."
