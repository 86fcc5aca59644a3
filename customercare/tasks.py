"""Thin tasks of customer care: each calls one idempotent function."""

from celery import shared_task
from django.utils import timezone

from core.jobs import job_result
from customercare import (
    account_deletion,
    escalation,
    member_data_requests,
    notifications,
    redemption_care,
)
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
    """Scheduled: send the care emails a crash left unsent, open the tickets for
    refunded redemptions that have none, and take up the privacy requests whose task was
    lost."""
    unsent = notifications.unsent_notifications()
    for notification_id in unsent:
        send_care_notification.delay(notification_id)
    opened = 0
    for redemption in redemption_care.redemptions_needing_ticket():
        opened += redemption_care.ticket_open_for_redemption(redemption=redemption) is not None
    exports = member_data_requests.member_data_exports_unfinished(now=timezone.now())
    for export_id in exports:
        member_data_export_make.delay(export_id)
    decisions = account_deletion.account_deletions_unsent()
    for request_id in decisions:
        account_deletion_notify.delay(request_id)
    return (
        f"{len(unsent)} email(s) sent again, {opened} ticket(s) opened, "
        f"{len(exports)} data request(s) and {len(decisions)} deletion answer(s) taken up"
    )


@shared_task(name="customercare.sla_check", acks_late=True)
def sla_check() -> dict:
    """Scheduled: flag tickets at risk and breached, escalate breaches, close resolved
    tickets past their reopen window."""
    result = escalation.sla_check(now=timezone.now())
    return job_result(rows=result.checked, summary=result)


@shared_task(
    name="customercare.member_data_export_make",
    acks_late=True,
    soft_time_limit=300,
    time_limit=360,
)
def member_data_export_make(export_id: int) -> str:
    """A member asked for their data: make the archive and email its link, once."""
    return f"data request {export_id}: " + member_data_requests.member_data_export_make(
        export_id=export_id
    )


@shared_task(name="customercare.account_deletion_notify", acks_late=True)
def account_deletion_notify(request_id: int) -> str:
    """Tell the member that their account was deleted, or why not, once."""
    sent = account_deletion.account_deletion_email_send(request_id=request_id)
    return f"deletion request {request_id}: {'sent' if sent else 'not sent'}"


@shared_task(name="customercare.member_data_expire", acks_late=True)
def member_data_expire() -> str:
    """Scheduled: delete the member data archives past their week."""
    return member_data_requests.member_data_exports_expire(now=timezone.now())
