"""Customer care's domain errors (mapped to problem documents by the API)."""

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
