"""A ticket's state in words and colours, the same in the list and on the member page."""

from customercare.models import SLAState, TicketStatus

STATUS_TONES = {
    TicketStatus.NEW: "info",
    TicketStatus.OPEN: "primary",
    TicketStatus.PENDING_CUSTOMER: "",
    TicketStatus.PENDING_FULFILLMENT: "warning",
    TicketStatus.RESOLVED: "success",
    TicketStatus.CLOSED: "",
    TicketStatus.MERGED: "",
}
STATUS_WORDS = {
    TicketStatus.PENDING_CUSTOMER: "Pending: member",
    TicketStatus.PENDING_FULFILLMENT: "Pending: fulfillment",
    TicketStatus.MERGED: "Merged",
}
SLA_TONES = {
    SLAState.ON_TRACK: "success",
    SLAState.AT_RISK: "warning",
    SLAState.BREACHED: "danger",
    SLAState.MET: "",
}
