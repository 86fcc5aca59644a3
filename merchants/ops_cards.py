"""The merchant, billing and integration cards of the ops home (``core.ops_cards``)."""

import datetime

from core.ops_cards import Card, Figure, count
from core.site_time import site_today
from merchants.models import (
    Invoice,
    InvoiceStatus,
    Merchant,
    MerchantStatus,
    Store,
    WebhookDelivery,
)
from merchants.queues import (
    AWAITING_REVIEW,
    deliveries_failing,
    invoices_overdue,
    onboarding_blocked,
    stores_silent,
)

MERCHANTS = "admin:merchants_merchant_changelist"
INVOICES = "admin:merchants_invoice_changelist"


def _awaiting_review(now: datetime.datetime) -> Figure:
    return count(Merchant.objects.filter(status__in=AWAITING_REVIEW).count())


def _blocked(now: datetime.datetime) -> Figure:
    return count(onboarding_blocked(Merchant.objects.all()).count())


def _suspended(now: datetime.datetime) -> Figure:
    return count(Merchant.objects.filter(status=MerchantStatus.SUSPENDED).count())


def _drafts(now: datetime.datetime) -> Figure:
    return count(Invoice.objects.filter(status=InvoiceStatus.DRAFT).count())


def _overdue(now: datetime.datetime) -> Figure:
    today = site_today(now)
    return count(invoices_overdue(Invoice.objects.all(), today=today).count())


def _failing(now: datetime.datetime) -> Figure:
    return count(deliveries_failing(WebhookDelivery.objects.all()).count())


def _silent(now: datetime.datetime) -> Figure:
    return count(stores_silent(Store.objects.all(), now=now).count())


CARDS = [
    Card(
        key="merchants.review",
        section="Merchants",
        title="Applications to review",
        meaning="Merchants that applied or are in review: check the business and approve "
        "or reject.",
        figure=_awaiting_review,
        link=MERCHANTS,
        query="status__in=applied,in_review",
        rights_of="merchants.merchant",
        badge=True,
    ),
    Card(
        key="merchants.blocked",
        section="Merchants",
        title="Onboarding blocked",
        meaning="Approved merchants with an open item on their checklist: they cannot go "
        "live until it is done.",
        figure=_blocked,
        link=MERCHANTS,
        query="onboarding=blocked",
        rights_of="merchants.merchant",
    ),
    Card(
        key="merchants.suspended",
        section="Merchants",
        title="Suspended merchants",
        meaning="Their members can neither earn nor redeem until they are reinstated.",
        figure=_suspended,
        link=MERCHANTS,
        query="status__exact=suspended",
        rights_of="merchants.merchant",
        tone="info",
    ),
    Card(
        key="merchants.drafts",
        section="Merchants",
        title="Invoices to issue",
        meaning="Invoices drafted from the month's usage, not issued yet: check and issue them.",
        figure=_drafts,
        link=INVOICES,
        query="status__exact=draft",
        rights_of="merchants.invoice",
        badge=True,
    ),
    Card(
        key="merchants.overdue",
        section="Merchants",
        title="Invoices overdue",
        meaning="Issued invoices past their due date with no payment recorded.",
        figure=_overdue,
        link=INVOICES,
        query="overdue=yes",
        rights_of="merchants.invoice",
        tone="danger",
    ),
    Card(
        key="integrations.webhooks_failing",
        section="Integrations",
        title="Failing webhook deliveries",
        meaning="Events a merchant's endpoint refused: being retried, or given up. Check "
        "the endpoint with the merchant, then replay.",
        figure=_failing,
        link="admin:merchants_webhookdelivery_changelist",
        query="failing=yes",
        rights_of="merchants.webhookdelivery",
        tone="danger",
        badge=True,
    ),
    Card(
        key="integrations.stores_silent",
        section="Integrations",
        title="Stores silent for longer than usual",
        meaning="Active stores that have sent no order or webhook for much longer than "
        "their own usual gap: check the app is installed, its token and its webhooks.",
        figure=_silent,
        link="admin:merchants_store_changelist",
        query="silent=yes",
        rights_of="merchants.store",
        badge=True,
    ),
]
