from rest_framework import exceptions, permissions
from rest_framework.request import Request

from merchants.models import API_ENABLED_STATUSES, MerchantAPIKey, Scope


class HasScopedAPIKey(permissions.BasePermission):
    """A valid key of an active merchant, holding the scope the view asks for.

    A view names its scope with ``required_scope``; otherwise reads need ``read`` and every
    other method needs ``write``. ``allow_inactive_merchant = True`` lets a view answer
    merchants that are not (yet) live, e.g. so an integrator can check their key.
    """

    def has_permission(self, request: Request, view: object) -> bool:
        api_key = request.auth
        if not isinstance(api_key, MerchantAPIKey):
            raise exceptions.NotAuthenticated("Send 'Authorization: Bearer <key>'.")
        if (
            not getattr(view, "allow_inactive_merchant", False)
            and api_key.merchant.status not in API_ENABLED_STATUSES
        ):
            raise exceptions.PermissionDenied(
                f"The merchant is {api_key.merchant.status}; the API is closed to it.",
                code="merchant_not_active",
            )
        scope = getattr(view, "required_scope", None) or (
            Scope.READ if request.method in permissions.SAFE_METHODS else Scope.WRITE
        )
        if not api_key.has_scope(scope):
            raise exceptions.PermissionDenied(
                f"This key lacks the '{scope}' scope.", code="insufficient_scope"
            )
        return True
