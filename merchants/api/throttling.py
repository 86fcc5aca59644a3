from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from merchants.models import MerchantAPIKey


class APIKeyRateThrottle(SimpleRateThrottle):
    """One budget per API key (``API_THROTTLE_RATE``); unauthenticated calls are refused
    before they get here."""

    scope = "api_key"

    def get_cache_key(self, request: Request, view: object) -> str | None:
        if not isinstance(request.auth, MerchantAPIKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.prefix}
