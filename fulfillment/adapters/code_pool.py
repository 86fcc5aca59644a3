"""Codes the provider holds itself (``catalog`` code pools), delivered at once.

The codes are reserved when the redemption is made (``fulfillment.services.
stock_reserve``), for the supplier order's idempotency key; placing the order delivers
exactly those codes and marks them used for the key, so a replay finds and returns the
same codes. An order that holds no reservation (given up and released meanwhile) is
refused: the adapter never takes a code the redemption did not reserve, so a pool never
hands out more codes than it accepted redemptions for.
"""

import logging

from django.utils import timezone

from catalog import pools
from catalog.models import CodePool, VoucherCode
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


class CodePoolAdapter(SupplierAdapter):
    """Delivers the ``quantity`` codes reserved for the order in the offer's pool. An
    order without them is a terminal failure, with no code used. Codes handed out
    cannot be taken back, so ``cancel`` always says no."""

    name = "code_pool"

    def place(self, request: OrderRequest) -> OrderResult:
        key = request.idempotency_key
        pool = CodePool.objects.filter(offer_id=request.offer_id).first()
        if pool is None:
            return OrderResult.failure(TerminalError(f"Offer {request.offer_id} has no code pool."))
        ref = f"{REF_PREFIX}{pool.pk}"
        if request.face_value != pool.face_value:
            return OrderResult.failure(
                TerminalError(
                    f"Pool {pool.pk} holds codes worth {pool.face_value}, not {request.face_value}."
                )
            )
        reserved = VoucherCode.objects.filter(pool=pool, reserved_for=key).count()
        if reserved != request.quantity:
            return OrderResult.failure(
                TerminalError(
                    f"{reserved} code(s) of pool {pool.pk} are reserved for {key}; the "
                    f"order needs {request.quantity}."
                )
            )
        codes = pools.codes_deliver(pool_id=pool.pk, reserved_for=key, at=timezone.now())
        logger.info("delivered %d code(s) from pool %s for %s", len(codes), pool.pk, key)
        return _delivered(ref, codes)

    def lookup(self, idempotency_key: str, supplier_ref: str | None = None) -> OrderResult | None:
        found = pools.codes_delivered(used_for=idempotency_key, pool_id=_pool_id(supplier_ref))
        if not found:
            return None
        return _delivered(f"{REF_PREFIX}{found[0].pool_id}", found)

    def cancel(self, supplier_ref: str) -> bool:
        return False


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
