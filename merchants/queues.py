"""The merchant team's queues across merchants, each defined once: the merchant, store,
invoice and webhook lists filter with them and the ops home counts them
(``merchants.ops_cards``)."""

import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet

from merchants import silence
from merchants.models import (
    DeliveryStatus,
    Invoice,
    InvoiceStatus,
    Merchant,
    MerchantStatus,
    OnboardingChecklistItem,
    Store,
    WebhookDelivery,
)

AWAITING_REVIEW = (MerchantStatus.APPLIED, MerchantStatus.IN_REVIEW)


def onboarding_blocked(queryset: QuerySet[Merchant]) -> QuerySet[Merchant]:
    """Approved merchants that cannot go live yet: an item of their checklist is open."""
    open_item = OnboardingChecklistItem.objects.filter(
        merchant=OuterRef("pk"), completed_at__isnull=True
    )
    return queryset.filter(status=MerchantStatus.APPROVED).filter(Exists(open_item))


def invoices_overdue(queryset: QuerySet[Invoice], *, today: datetime.date) -> QuerySet[Invoice]:
    return queryset.filter(status=InvoiceStatus.ISSUED, due_on__lt=today)


def deliveries_failing(queryset: QuerySet[WebhookDelivery]) -> QuerySet[WebhookDelivery]:
    """Deliveries the merchant's endpoint refused: being retried, or given up."""
    return queryset.filter(
        Q(status=DeliveryStatus.PENDING, attempts__gt=0) | Q(status=DeliveryStatus.FAILED)
    )


def stores_silent(queryset: QuerySet[Store], *, now: datetime.datetime) -> QuerySet[Store]:
    """Active stores of live merchants, learned from enough events, whose silence is now
    longer than usual for them (``merchants.silence``): a range of the ``silent_after``
    index. A suspended merchant's stores are refused by the API, so their silence is
    expected."""
    return queryset.filter(
        is_active=True,
        merchant__status=MerchantStatus.LIVE,
        event_gaps__gte=silence.MIN_GAPS,
        silent_after__lt=now,
    )
