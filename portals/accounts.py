"""django-allauth's adapters for the merchant portal's sign-in.

Sign-up is closed (portal users are invited: ``merchants.services.team.portal_user_invite``);
a sign-in starts a fresh portal session (``portals.access``); an owner may not remove
their authenticator, since owners must sign in with one.
"""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from django.http import HttpRequest

from portals.access import session_start, user_must_keep_mfa


class PortalAccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def login(self, request: HttpRequest, user) -> None:
        super().login(request, user)
        session_start(request)


class PortalMFAAdapter(DefaultMFAAdapter):
    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        if authenticator.type == Authenticator.Type.TOTP and user_must_keep_mfa(authenticator.user):
            return False
        return super().can_delete_authenticator(authenticator)
