"""Codes the provider holds itself (``catalog`` code pools), delivered at once.

Idempotency rides on ``VoucherCode.used_for``: every code claimed for an order carries
the order's idempotency key, so a replay finds and returns the same codes. The pool row
is locked for the whole claim, so two calls with the same key cannot both find nothing
and both claim; a short pool rolls the claim back whole.
"""

import logging

from django.db import transaction

from catalog.models import CodePool, VoucherCode
from catalog.pools import code_claim, pool_unused_count
from fulfillment.adapters.base import (
    DeliveredCode,
    OrderRequest,
    OrderResult,
    OrderStatus,
    SupplierAdapter,
    TerminalError,
)

logger = logging.getLogger("fulfillment.adapters.code_pool")

REF_PREFIX = "pool-"


class _PoolShort(Exception):
    def __init__(self, available: int) -> None:
        self.available = available


class CodePoolAdapter(SupplierAdapter):
    """Claims ``quantity`` codes from the offer's pool. A pool holding too few usable
    codes is a terminal failure, with no code used. Codes handed out cannot be taken
    back, so ``cancel`` always says no."""

    name = "code_pool"

    def place(self, request: OrderRequest) -> OrderResult:
        key = request.idempotency_key
        try:
            with transaction.atomic():
                pool = (
                    CodePool.objects.select_for_update().filter(offer_id=request.offer_id).first()
                )
                if pool is None:
                    return OrderResult.failure(
                        TerminalError(f"Offer {request.offer_id} has no code pool.")
                    )
                ref = f"{REF_PREFIX}{pool.pk}"
                claimed = _codes_for(pool.pk, key)
                if claimed:
                    return _delivered(ref, claimed)
                if request.face_value != pool.face_value:
                    return OrderResult.failure(
                        TerminalError(
                            f"Pool {pool.pk} holds codes worth {pool.face_value}, "
                            f"not {request.face_value}."
                        )
                    )
                available = pool_unused_count(pool)
                if available < request.quantity:
                    raise _PoolShort(available)
                for _ in range(request.quantity):
                    code = code_claim(pool=pool, used_for=key)
                    if code is None:
                        raise _PoolShort(len(claimed))
                    claimed.append(code)
        except _PoolShort as short:
            # The atomic block has rolled back every code this call claimed.
            return OrderResult.failure(
                TerminalError(
                    f"The code pool of offer {request.offer_id} has {short.available} usable "
                    f"code(s); the order needs {request.quantity}."
                )
            )
        logger.info("claimed %d code(s) from pool %s for %s", len(claimed), pool.pk, key)
        return _delivered(ref, claimed)

    def lookup(self, idempotency_key: str, supplier_ref: str | None = None) -> OrderResult | None:
        pool_id = _pool_id(supplier_ref)
        codes = VoucherCode.objects.filter(used_for=idempotency_key, used_at__isnull=False)
        if pool_id is not None:
            codes = codes.filter(pool_id=pool_id)
        found = list(codes.order_by("id"))
        if not found:
            return None
        return _delivered(f"{REF_PREFIX}{found[0].pool_id}", found)

    def cancel(self, supplier_ref: str) -> bool:
        return False


def _codes_for(pool_id: int, key: str) -> list[VoucherCode]:
    return list(
        VoucherCode.objects.filter(pool_id=pool_id, used_for=key, used_at__isnull=False).order_by(
            "id"
        )
    )


def _pool_id(supplier_ref: str | None) -> int | None:
    if supplier_ref and supplier_ref.startswith(REF_PREFIX):
        number = supplier_ref.removeprefix(REF_PREFIX)
        if number.isdigit():
            return int(number)
    return None


def _delivered(ref: str, codes: list[VoucherCode]) -> OrderResult:
    return OrderResult(
        status=OrderStatus.DELIVERED,
        supplier_ref=ref,
        codes=[
            DeliveredCode(code=code.code, pin=code.pin, expires_on=code.expires_on)
            for code in codes
        ],
    )
