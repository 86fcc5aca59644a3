"""``Authorization: Bearer <key>``: the key names the merchant every API view works for.

Every failed authentication counts against the client's address, and an address that has
spent its budget is refused before its key is looked at (``merchants.api.throttling``).
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from merchants.api.throttling import auth_failure_record, auth_failures_check, client_address
from merchants.models import MerchantAPIKey
from merchants.selectors import api_key_authenticate
from merchants.services.api_keys import api_key_touch


class APIKeyUser:
    """Stands in for ``request.user`` on API requests: the integration, not a person."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False

    def __init__(self, api_key: MerchantAPIKey):
        self.api_key = api_key
        self.merchant = api_key.merchant

    def __str__(self) -> str:
        return f"api-key:{self.api_key.prefix}"

    def get_username(self) -> str:
        return str(self)


class APIKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[APIKeyUser, MerchantAPIKey] | None:
        """The key's user and key; None without a Bearer header (the view's permission
        then refuses it, and counts that failure: ``MerchantAPIView``)."""
        address = client_address(request)
        auth_failures_check(address=address)
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise _failed(
                address, "Send the key as 'Authorization: Bearer <key>'.", "invalid_authorization"
            )
        try:
            raw_key = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise _failed(address, "Invalid API key.", "invalid_api_key") from None
        api_key = api_key_authenticate(raw_key=raw_key)
        if api_key is None:
            raise _failed(address, "Invalid, revoked or expired API key.", "invalid_api_key")
        if not getattr(api_key, "from_cache", False):
            api_key_touch(api_key=api_key)
        return APIKeyUser(api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


def _failed(address: str, detail: str, code: str) -> exceptions.AuthenticationFailed:
    auth_failure_record(address=address)
    return exceptions.AuthenticationFailed(detail, code=code)


class APIKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "merchants.api.authentication.APIKeyAuthentication"
    name = "merchantApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A merchant API key, issued by the provider's operations staff.",
        }
