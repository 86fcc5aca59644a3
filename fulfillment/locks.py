"""Every row lock fulfillment takes, in one place, so that the order is the same
everywhere: a redemption's supplier orders first (by attempt, i.e. by primary key within
one redemption), then the redemption, then its member inside the ledger. A dispatch run,
a staff action and a shipment update on the same redemption then queue behind one
another instead of deadlocking. A dispatch run recording a batch locks all of its
supplier orders first, then all of their redemptions, each set by primary key: the same
order, so it queues behind (or ahead of) a single redemption's lockers and behind another
batch, never across them.

``of=("self",)`` where a query joins rows for reading: only the named table is locked.
"""

from collections.abc import Iterable

from django.db import connection
from django.db.models import QuerySet

from fulfillment.models import Redemption, SupplierOrder


def supplier_orders_claim(due: QuerySet[SupplierOrder]) -> QuerySet[SupplierOrder]:
    """``due`` locked for a dispatch claim: rows another run holds are skipped where the
    database can (PostgreSQL), waited for where it cannot (SQLite has no row locks)."""
    if connection.features.has_select_for_update_skip_locked:
        return due.select_for_update(skip_locked=True, of=("self",))
    return due.select_for_update()


def supplier_order_lock(order_id: int) -> SupplierOrder:
    """One supplier order, locked, with its supplier and offer for reading."""
    return (
        SupplierOrder.objects.select_for_update(of=("self",))
        .select_related("supplier", "offer")
        .get(pk=order_id)
    )


def supplier_orders_lock(order_ids: Iterable[int]) -> dict[int, SupplierOrder]:
    """Supplier orders, locked by primary key, by id (their supplier and offer are the
    caller's: it read them with its claim)."""
    locked = SupplierOrder.objects.select_for_update().filter(pk__in=list(order_ids))
    return {order.pk: order for order in locked.order_by("pk")}


def redemptions_lock(redemption_ids: Iterable[int]) -> dict[int, Redemption]:
    """Redemptions, locked by primary key, by id, with what delivering them reads: the
    merchant (billing), the member with their tier and the reward (the webhook event)."""
    locked = (
        Redemption.objects.select_for_update(of=("self",))
        .select_related("merchant", "member__tier", "reward")
        .filter(pk__in=list(redemption_ids))
    )
    return {redemption.pk: redemption for redemption in locked.order_by("pk")}


def redemption_lock(redemption_id: int) -> Redemption:
    """The redemption, locked, with its merchant for reading (billing needs it)."""
    return (
        Redemption.objects.select_for_update(of=("self",))
        .select_related("merchant")
        .get(pk=redemption_id)
    )


def redemption_lock_with_active_order(
    redemption_id: int, *, active: tuple[str, ...]
) -> tuple[SupplierOrder | None, Redemption]:
    """The redemption's active supplier order (its latest attempt in ``active``) and the
    redemption, both locked, orders first."""
    orders = list(
        SupplierOrder.objects.select_for_update()
        .filter(redemption_id=redemption_id, status__in=active)
        .order_by("attempt", "pk")
    )
    return (orders[-1] if orders else None), redemption_lock(redemption_id)


def redemption_delivery_lock(redemption_id: int) -> str:
    """Lock the redemption for a change of its delivery status; that status."""
    return (
        Redemption.objects.select_for_update()
        .values_list("delivery_status", flat=True)
        .get(pk=redemption_id)
    )
