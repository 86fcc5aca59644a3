from fulfillment.models.redemptions import (
    DeliveryStatus,
    Redemption,
    RedemptionEvent,
    RedemptionStatus,
)
from fulfillment.models.supplier_orders import SupplierOrder, SupplierOrderStatus

__all__ = [
    "DeliveryStatus",
    "Redemption",
    "RedemptionEvent",
    "RedemptionStatus",
    "SupplierOrder",
    "SupplierOrderStatus",
]
