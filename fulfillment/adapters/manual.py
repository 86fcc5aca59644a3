"""Orders that provider staff fulfil by hand in the admin."""

from fulfillment.adapters.base import OrderRequest, OrderResult, OrderStatus, SupplierAdapter


class ManualAdapter(SupplierAdapter):
    """Accepts every order as submitted, with nothing delivered: ops complete it later.
    The adapter keeps no state, so ``lookup`` can only say the order is still waiting;
    what ops did is recorded on the fulfillment side."""

    name = "manual"

    def place(self, request: OrderRequest) -> OrderResult:
        return OrderResult(
            status=OrderStatus.SUBMITTED, supplier_ref=self._ref(request.idempotency_key)
        )

    def lookup(self, idempotency_key: str, supplier_ref: str | None = None) -> OrderResult | None:
        return OrderResult(
            status=OrderStatus.SUBMITTED, supplier_ref=supplier_ref or self._ref(idempotency_key)
        )

    def cancel(self, supplier_ref: str) -> bool:
        return True

    @staticmethod
    def _ref(idempotency_key: str) -> str:
        return f"manual:{idempotency_key}"
