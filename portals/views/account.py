"""The account page: the user's sign-in settings (password, authenticator, recovery
codes), which allauth's own pages change."""

from allauth.mfa.models import Authenticator
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from portals import roles
from portals.access import portal_view, user_must_keep_mfa


@portal_view(roles=roles.EVERYONE)
def account(request: HttpRequest) -> HttpResponse:
    kinds = set(Authenticator.objects.filter(user=request.user).values_list("type", flat=True))
    return TemplateResponse(
        request,
        "portals/account.html",
        {
            "has_totp": Authenticator.Type.TOTP in kinds,
            "has_recovery_codes": Authenticator.Type.RECOVERY_CODES in kinds,
            "must_keep_mfa": user_must_keep_mfa(request.user),
        },
    )
