"""Every row lock the merchants app takes, in one place."""

from merchants.models import (
    IdempotencyRecord,
    Invoice,
    InvoiceCounter,
    Merchant,
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
