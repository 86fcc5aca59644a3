from core.exceptions import DomainError


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


class InvalidSupplierSettings(DomainError):
    code = "invalid_supplier_settings"
    status = 400
    title = "The supplier's adapter settings are not valid."


class SupplierCredentialsLocked(DomainError):
    code = "supplier_credentials_locked"
    status = 403
    title = (
        "Changing a supplier's credentials, or where they are sent, needs the permission "
        "to change supplier credentials."
    )
