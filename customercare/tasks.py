"""Thin tasks of customer care: each calls one idempotent function."""

from celery import shared_task
from django.utils import timezone

from customercare import escalation, notifications, redemption_care
from fulfillment.models import Redemption


@shared_task(name="customercare.send_care_notification", acks_late=True)
def send_care_notification(notification_id: int) -> str:
    sent = notifications.notification_send(notification_id=notification_id)
    return f"notification {notification_id}: {'sent' if sent else 'not sent'}"


@shared_task(name="customercare.open_ticket_for_redemption", acks_late=True)
def open_ticket_for_redemption(redemption_id: int) -> str:
    """Fulfillment refunded a redemption it could not deliver: a ticket for care."""
    redemption = Redemption.objects.select_related("merchant", "member", "reward").get(
        pk=redemption_id
    )
    ticket = redemption_care.ticket_open_for_redemption(redemption=redemption)
    return f"redemption {redemption_id}: {ticket.reference if ticket else 'has a ticket'}"


def redemption_needs_care(*, redemption_id: int) -> None:
    """Fulfillment's ``on_redemption_needs_care`` hook (called after its commit)."""
    open_ticket_for_redemption.delay(redemption_id)


@shared_task(name="customercare.sweep", acks_late=True)
def sweep() -> str:
    """Scheduled: send the care emails a crash left unsent and open the tickets for
    refunded redemptions that have none."""
    unsent = notifications.unsent_notifications()
    for notification_id in unsent:
        send_care_notification.delay(notification_id)
    opened = 0
    for redemption in redemption_care.redemptions_needing_ticket():
        opened += redemption_care.ticket_open_for_redemption(redemption=redemption) is not None
    return f"{len(unsent)} email(s) sent again, {opened} ticket(s) opened"


@shared_task(name="customercare.sla_check", acks_late=True)
def sla_check() -> str:
    """Scheduled: flag tickets at risk and breached, escalate breaches, close resolved
    tickets past their reopen window."""
    return str(escalation.sla_check(now=timezone.now()))
