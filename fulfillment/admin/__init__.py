"""Admin for the Fulfillment team: redemptions in work queues with the staff actions
(retry now, fail over, cancel and refund, deliver a manual order, add tracking, move a
shipment), shipments, supplier orders, code reveals, and the supplier health page.

Every action calls a service in ``fulfillment.services`` (``interventions``,
``shipments``, ``delivery``, ``code_reveals``); nothing here changes a status. Delivered
codes are shown masked; reading one in clear is a separate, audited step."""

from fulfillment.admin import redemptions, shipments, supplier_orders

__all__ = ["redemptions", "shipments", "supplier_orders"]
