"""Customer care's domain errors (mapped to problem documents by the API)."""

import datetime

from core.exceptions import DomainError, NotFound


class TicketNotFound(NotFound):
    code = "ticket_not_found"
    title = "No such ticket."


class InvalidTicketInput(DomainError):
    code = "invalid_input"
    status = 400
    title = "The ticket request is not valid."


class TicketClosed(DomainError):
    code = "ticket_closed"
    status = 409
    title = "The ticket is closed; open a new one."


class CSATAlreadyGiven(DomainError):
    code = "csat_already_given"
    status = 409
    title = "This resolution was already rated."


class AttachmentRefused(DomainError):
    code = "attachment_refused"
    status = 400
    title = "The attachment is not allowed."


class GoodwillRefused(DomainError):
    code = "goodwill_refused"
    status = 409
    title = "The goodwill adjustment is not allowed."


class PrivacyRequestRefused(DomainError):
    code = "privacy_request_refused"
    status = 409
    title = "The request cannot be made for this member."


class DataExportTooSoon(PrivacyRequestRefused):
    """The member asked for their data less than ``EXPORT_INTERVAL`` ago; ``available_at``
    says when they may ask again."""

    code = "data_export_too_soon"
    status = 429
    title = "The member asked for their data less than 24 hours ago."

    def __init__(
        self, detail: str | None = None, *, available_at: datetime.datetime, retry_after: int
    ) -> None:
        super().__init__(detail, available_at=available_at.isoformat())
        self.available_at = available_at
        self.retry_after = retry_after


class DeletionAlreadyRequested(PrivacyRequestRefused):
    code = "deletion_already_requested"
    status = 409
    title = "A request to delete this account is already waiting for review."
