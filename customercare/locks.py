"""Every row lock customer care takes, in one place.

Rows of one table are locked in primary-key order, so two writers that need the same
rows queue behind each other instead of waiting on each other in a circle. A ticket is
locked alone (``of=("self",)``): the member comes along for reading, and the ledger locks
the member itself when points move. The jobs claim with ``SKIP LOCKED`` where the
database has it, so a row an agent is working on waits for the next run."""

import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import QuerySet

from customercare.models import (
    AccountDeletionRequest,
    AgentProfile,
    CareNotification,
    DataExportStatus,
    GoodwillAdjustment,
    MemberDataExport,
    Ticket,
)


def ticket_lock(*, pk: int) -> Ticket:
    """The ticket's row, locked for a change of the ticket."""
    return Ticket.objects.select_for_update(of=("self",)).select_related("member").get(pk=pk)


def tickets_lock(*, pks: list[int]) -> dict[int, Ticket]:
    """Several tickets' rows (a merge's two), locked in id order, by id."""
    rows = (
        Ticket.objects.select_for_update()
        .select_related("member")
        .filter(pk__in=pks)
        .order_by("pk")
    )
    return {row.pk: row for row in rows}


def ticket_lock_no_key(*, pk: int) -> Ticket:
    """The ticket's row, locked against the ticket services but not against the
    key-share locks of rows pointing at it (goodwill's ledger entries); the merchant and
    the member are read, not locked."""
    return (
        Ticket.objects.select_for_update(of=("self",), no_key=True)
        .select_related("merchant", "member")
        .get(pk=pk)
    )


def tickets_claim(queryset: QuerySet[Ticket], *, batch_size: int) -> list[Ticket]:
    """Up to ``batch_size`` of ``queryset``'s tickets in id order, locked; on PostgreSQL
    the rows another transaction holds are skipped."""
    if connection.features.has_select_for_update_skip_locked:
        queryset = queryset.select_for_update(skip_locked=True, of=("self",))
    else:
        queryset = queryset.select_for_update()
    return list(queryset.order_by("pk")[:batch_size])


def agent_profiles_lock(*, users: QuerySet[AbstractBaseUser]) -> list[AgentProfile]:
    """The available agents' profiles among ``users``, locked in id order for a round
    robin choice."""
    return list(
        AgentProfile.objects.select_for_update()
        .filter(is_available=True, user__in=users.values("pk"))
        .order_by("pk")
    )


def goodwill_adjustment_lock(*, pk: int) -> GoodwillAdjustment:
    return GoodwillAdjustment.objects.select_for_update().get(pk=pk)


def notification_claim(*, pk: int) -> CareNotification | None:
    """The notification, locked, when it is unsent and no other worker holds it."""
    return (
        CareNotification.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("ticket__member", "ticket__merchant", "message")
        .filter(pk=pk, sent_at__isnull=True)
        .first()
    )


def member_data_export_lock(*, pk: int) -> MemberDataExport | None:
    """The data export's row, locked while its archive is made or its email sent."""
    return (
        MemberDataExport.objects.select_for_update(of=("self",))
        .select_related("merchant", "member")
        .filter(pk=pk)
        .first()
    )


def member_data_exports_expired_claim(
    *, now: datetime.datetime, batch_size: int, merchant_id: int | None = None
) -> list[MemberDataExport]:
    """Archives past their week in id order, locked; on PostgreSQL the rows another run
    of the job holds are skipped."""
    queryset = MemberDataExport.objects.filter(status=DataExportStatus.READY, expires_at__lte=now)
    if merchant_id is not None:
        queryset = queryset.filter(merchant_id=merchant_id)
    if connection.features.has_select_for_update_skip_locked:
        queryset = queryset.select_for_update(skip_locked=True, of=("self",))
    else:
        queryset = queryset.select_for_update()
    return list(queryset.order_by("pk")[:batch_size])


def account_deletion_lock(*, pk: int) -> AccountDeletionRequest | None:
    """The deletion request's row, locked while its email is sent."""
    return (
        AccountDeletionRequest.objects.select_for_update(of=("self",))
        .select_related("merchant", "member")
        .filter(pk=pk)
        .first()
    )
