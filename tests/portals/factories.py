"""Merchant-portal users for the portal's tests: a user with a password, a membership in
a role, and an authenticator when asked."""

import time

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
)
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from merchants.models import Merchant, MerchantMembership

PASSWORD = "correct horse battery staple 42"


def totp_code(secret: str, *, offset: int = 0) -> str:
    """The code an authenticator app shows now for ``secret``."""
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30 + offset))


def portal_user(
    merchant: Merchant, role: str, *, email: str | None = None, totp: bool | None = None
):
    """A user on ``merchant``'s team in ``role``; owners get an authenticator (TOTP)
    unless ``totp=False``. The secret is ``user.totp_secret``."""
    User = get_user_model()
    email = (email or f"{role}-{merchant.slug}-{User.objects.count()}@example.com").lower()
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(username=email, email=email, password=PASSWORD)
    MerchantMembership.objects.create(merchant=merchant, user=user, role=role)
    user.totp_secret = None
    if totp if totp is not None else role == "owner":
        existing = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
        if existing is None:
            user.totp_secret = generate_totp_secret()
            TOTP.activate(user, user.totp_secret)
    return user


def signed_in(user) -> Client:
    """A browser signed in to the portal as ``user`` (without going through the form)."""
    client = Client()
    client.force_login(user)
    return client


def reauthenticate(client: Client, password: str = PASSWORD) -> None:
    """Type the password again, as allauth asks before authenticator changes."""
    response = client.post(reverse("account_reauthenticate"), {"password": password})
    assert response.status_code == 302, response.content[:300]
