"""Every row lock the catalog takes, in one place: several rows in primary-key order, so
two transactions locking overlapping sets queue instead of deadlocking."""

from collections.abc import Iterable

from django.db import connection
from django.db.models import QuerySet

from catalog.models import MerchantCatalogItem, Reward, Supplier, VoucherCode


def rewards_lock(reward_ids: Iterable[int]) -> QuerySet[Reward]:
    return Reward.objects.select_for_update().filter(pk__in=list(reward_ids)).order_by("pk")


def supplier_lock(supplier_id: int) -> Supplier | None:
    return Supplier.objects.select_for_update().filter(pk=supplier_id).first()


def codes_lock_free(codes: QuerySet[VoucherCode]) -> QuerySet[VoucherCode]:
    """Free codes in primary-key order; on PostgreSQL the codes another open transaction
    holds are skipped (another redemption is taking them). Elsewhere no lock at all: the
    caller's conditional ``UPDATE`` is the compare-and-swap."""
    codes = codes.order_by("id")
    if connection.features.has_select_for_update_skip_locked:
        return codes.select_for_update(skip_locked=True)
    return codes


def catalog_item_reread_locked(item: MerchantCatalogItem) -> bool:
    """Lock the item's row and read the item again from it (its reward and merchant stay
    as loaded); False when the item is gone."""
    try:
        item.refresh_from_db(from_queryset=MerchantCatalogItem.objects.select_for_update())
    except MerchantCatalogItem.DoesNotExist:
        return False
    return True
