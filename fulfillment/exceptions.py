from merchants.exceptions import DomainError, NotFound


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
