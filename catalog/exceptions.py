from merchants.exceptions import DomainError


class InvalidDenominations(DomainError):
    code = "invalid_denominations"
    status = 400
    title = "The reward's denominations are not valid."


class InvalidPriceOverride(DomainError):
    code = "invalid_price_override"
    status = 400
    title = "The fixed price does not fit the reward."


class CodeUploadRefused(DomainError):
    code = "code_upload_refused"
    status = 400
    title = "The code file was refused; no code was stored."
