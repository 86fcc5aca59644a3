from fulfillment.models.codes import CodeReveal, DeliveredCode
from fulfillment.models.redemptions import (
    DeliveryStatus,
    Redemption,
    RedemptionEvent,
    RedemptionStatus,
)
from fulfillment.models.shipments import Shipment, ShipmentSource, ShipmentStatus
from fulfillment.models.supplier_orders import SupplierOrder, SupplierOrderStatus

__all__ = [
    "CodeReveal",
    "DeliveredCode",
    "DeliveryStatus",
    "Redemption",
    "RedemptionEvent",
    "RedemptionStatus",
    "Shipment",
    "ShipmentSource",
    "ShipmentStatus",
    "SupplierOrder",
    "SupplierOrderStatus",
]
