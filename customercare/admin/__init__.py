"""Admin for the Customer care team: the ticket list and work queue, the ticket page with
the member's unified view, goodwill approvals, the reports page, and what care runs on
(SLA policies, calendars, canned replies, agent profiles, care settings, help pages),
and members' requests to delete their account.

Every change to a ticket, a goodwill adjustment or a redemption calls a service; the
admin never writes those models itself."""

from customercare.admin import goodwill, privacy, reference, tickets

__all__ = ["goodwill", "privacy", "reference", "tickets"]
