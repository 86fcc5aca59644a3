from core.exceptions import DomainError, NotFound


class RewardNotAvailable(NotFound):
    title = "The member cannot redeem that reward."


class InvalidDenomination(DomainError):
    code = "invalid_denomination"
    status = 400
    title = "The reward does not come in that value."


class InvalidRecipient(DomainError):
    code = "invalid_recipient"
    status = 400
    title = "The delivery details are missing or not valid."


class RedemptionLimitReached(DomainError):
    code = "redemption_limit_reached"
    status = 409
    title = "The member has reached the limit for that reward."


class OutOfStock(DomainError):
    code = "out_of_stock"
    status = 409
    title = "The reward is out of stock."


class OrderInFlight(DomainError):
    code = "order_in_flight"
    status = 409
    title = "A dispatch run is working on the supplier order right now; try again shortly."


class SupplierRefusedCancel(DomainError):
    code = "supplier_refused_cancel"
    status = 409
    title = "The supplier did not cancel the order."


class NoSupplierOrder(DomainError):
    code = "no_supplier_order"
    status = 409
    title = "The redemption has no supplier order to act on."


class NotManualOrder(DomainError):
    code = "not_manual_order"
    status = 409
    title = "Only a submitted order of a manual supplier is delivered by hand."


class OrderChanged(DomainError):
    code = "order_changed"
    status = 409
    title = "The supplier order changed meanwhile; look at it again."
