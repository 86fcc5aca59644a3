"""Every row lock the merchants app takes, in one place."""

import datetime

from merchants.models import (
    IdempotencyRecord,
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
