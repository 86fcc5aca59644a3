"""The member token the store's backend signs: its format (as the README documents it), its
lifetime, and what a token made for something else gets."""

import datetime
import uuid

import pytest
from django.utils import timezone

from integrations.widget.exceptions import (
    TokenExpired,
    TokenExpiryTooFar,
    TokenInvalid,
    TokenMissing,
)
from integrations.widget.tokens import token_make, token_verify
from tests.integrations.widget.conftest import readme_token_maker

STORE = uuid.UUID("0f8e9c5a-3b1d-4c2e-9a7f-5d6e4b3a2c1f")
OTHER_STORE = uuid.UUID("7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")
SECRET = "shpss_4d1c3a6b2f"
NOW = datetime.datetime(2026, 3, 2, 12, 0, tzinfo=datetime.UTC)


def make(external_id: str = "cust-42", *, ahead: int = 300, secret: str = SECRET, store=STORE):
    expires = int(NOW.timestamp()) + ahead
    return token_make(
        secret=secret, store_public_id=store, external_id=external_id, expires=expires
    )


def verify(token, *, secrets=(SECRET,), store=STORE, at=NOW):
    return token_verify(token, store_public_id=store, secrets=secrets, at=at)


def test_a_token_names_the_member_and_its_expiry():
    token = make("cust-42", ahead=300)
    external_id, expires, signature = token.split(":")
    assert (external_id, int(expires), len(signature)) == ("cust-42", 1772452800 + 300, 64)
    verified = verify(token)
    assert (verified.external_id, verified.expires) == ("cust-42", 1772452800 + 300)


def test_the_format_is_the_documented_hmac_over_the_prefixed_message():
    import hashlib
    import hmac

    expires = int(NOW.timestamp()) + 60
    message = f"widget-v1|{STORE}|cust-42|{expires}".encode()
    signature = hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()
    assert verify(f"cust-42:{expires}:{signature}").external_id == "cust-42"


def test_the_readme_python_example_makes_a_token_that_verifies():
    make_token = readme_token_maker()
    token = make_token(SECRET, str(STORE), "cust-42")
    verified = token_verify(token, store_public_id=STORE, secrets=[SECRET], at=timezone.now())
    assert verified.external_id == "cust-42"
    # Five minutes ahead, as the example says.
    assert 290 <= verified.expires - timezone.now().timestamp() <= 300


def test_an_external_id_with_colons_is_read_from_the_right():
    assert verify(make("shop:cust:42")).external_id == "shop:cust:42"


def test_an_expired_token_is_refused_after_a_minutes_allowance():
    assert verify(make(ahead=-30)).external_id == "cust-42"  # the store's clock may lag
    with pytest.raises(TokenExpired):
        verify(make(ahead=-61))


def test_a_token_more_than_ten_minutes_ahead_is_refused():
    assert verify(make(ahead=600)).external_id == "cust-42"
    assert verify(make(ahead=660)).external_id == "cust-42"  # a minute of clock drift
    with pytest.raises(TokenExpiryTooFar):
        verify(make(ahead=661))
    with pytest.raises(TokenExpiryTooFar):
        verify(make(ahead=86400 * 365))


def test_a_tampered_token_is_invalid():
    token = make("cust-42")
    external_id, expires, signature = token.split(":")
    for forged in (
        f"cust-43:{expires}:{signature}",  # another member
        f"{external_id}:{int(expires) + 60}:{signature}",  # a later expiry
        f"{external_id}:{expires}:{signature[:-1]}{'0' if signature[-1] != '0' else '1'}",
        f"{external_id}:{expires}:{signature.upper()}",
    ):
        with pytest.raises(TokenInvalid):
            verify(forged)


def test_a_token_for_another_store_or_with_another_secret_is_invalid():
    with pytest.raises(TokenInvalid):
        verify(make(store=OTHER_STORE))
    with pytest.raises(TokenInvalid):
        verify(make(secret="another-secret"))


def test_the_previous_secret_verifies_when_given():
    token = make(secret="old-secret")
    assert verify(token, secrets=(SECRET, "old-secret")).external_id == "cust-42"
    with pytest.raises(TokenInvalid):
        verify(token, secrets=(SECRET, ""))


@pytest.mark.parametrize(
    "token",
    [
        "cust-42",
        "cust-42:1772453100",
        ":1772453100:" + "a" * 64,  # no external id
        "cust 42:1772453100:" + "a" * 64,  # not an external id
        "cust-42:-1772453100:" + "a" * 64,
        "cust-42:\uff11\uff17\uff17\uff12:" + "a" * 64,  # digits, but not ASCII ones
        "cust-42:1772453100:" + "g" * 64,
        "cust-42:1772453100:" + "a" * 63,
        "x" * 300,
    ],
)
def test_a_malformed_token_is_invalid(token):
    with pytest.raises(TokenInvalid):
        verify(token)


def test_no_token_is_missing():
    for token in (None, ""):
        with pytest.raises(TokenMissing):
            verify(token)


def test_a_signature_is_checked_before_the_expiry():
    # A forged token learns nothing about the lifetime rules.
    stale = make(ahead=-3600, secret="guess")
    with pytest.raises(TokenInvalid):
        verify(stale)
