"""Every row lock the merchants app takes, in one place."""

import datetime

from merchants.models import (
    IdempotencyRecord,
    Invoice,
    InvoiceCounter,
    Merchant,
    MerchantMembership,
    MonthlyReport,
    OnboardingChecklistItem,
)


def checklist_item_lock_or_create(
    *, merchant: Merchant, item: str
) -> tuple[OnboardingChecklistItem, bool]:
    return OnboardingChecklistItem.objects.select_for_update().get_or_create(
        merchant=merchant, item=item
    )


def checklist_item_lock(*, merchant: Merchant, item: str) -> OnboardingChecklistItem:
    return OnboardingChecklistItem.objects.select_for_update().get(merchant=merchant, item=item)


def idempotency_record_lock(*, merchant: Merchant, key: str) -> IdempotencyRecord | None:
    return IdempotencyRecord.objects.select_for_update().filter(merchant=merchant, key=key).first()


def monthly_report_lock(*, merchant: Merchant, month: datetime.date) -> MonthlyReport | None:
    return MonthlyReport.objects.select_for_update().filter(merchant=merchant, month=month).first()


def memberships_lock(*, merchant: Merchant) -> list[MerchantMembership]:
    """Every portal membership of the merchant, locked in id order: a role change or a
    removal counts the owners under it, so two owners cannot demote each other at once."""
    return list(
        MerchantMembership.objects.select_for_update().filter(merchant=merchant).order_by("pk")
    )


def merchant_lock(*, merchant: Merchant) -> Merchant:
    """The merchant's row: held while one of its invoices is drafted, so two drafts of the
    same month never race to create it."""
    return Merchant.objects.select_for_update().get(pk=merchant.pk)


def invoice_lock(*, invoice: Invoice) -> Invoice:
    return Invoice.objects.select_for_update().get(pk=invoice.pk)


def invoice_counter_lock(*, kind: str, year: int) -> InvoiceCounter:
    """The counter of ``kind`` numbers in ``year``, created at 0 the first time. Taken last
    in an issuing transaction (after the invoice's own row), so issues queue on it and
    hold it only for the rest of their short transaction."""
    InvoiceCounter.objects.bulk_create(
        [InvoiceCounter(kind=kind, year=year, last=0)], ignore_conflicts=True
    )
    return InvoiceCounter.objects.select_for_update().get(kind=kind, year=year)
