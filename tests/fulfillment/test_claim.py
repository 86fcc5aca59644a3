"""The member's claim page, ``/claim/<token>/``: the token is the only credential."""

import time

import pytest
from django.core import signing

from fulfillment import delivery
from fulfillment.models import CodeReveal, Redemption
from tests.fulfillment.test_delivery import (
    BASE_URL,
    _SignedLongAgo,
    delivered,
    delivery_events,
    the_code,
)

pytestmark = pytest.mark.django_db


def page_of(redemption: Redemption) -> str:
    return f"/claim/{delivery.claim_token(redemption)}/"


def assert_private(response) -> None:
    assert response["Cache-Control"] == "no-store"
    assert response["Referrer-Policy"] == "no-referrer"


def test_the_page_shows_the_code_pin_expiry_instructions_and_terms(client):
    redemption = delivered(terms="Reward terms here.")
    brand = redemption.reward.brand
    brand.redemption_instructions = "Show the code at the till."
    brand.save()
    code = the_code(redemption)

    response = client.get(page_of(redemption))

    assert response.status_code == 200
    assert_private(response)
    page = response.content.decode()
    assert brand.name in page
    assert redemption.reward.name in page
    assert "$25.00" in page
    assert code.code in page
    assert code.pin in page
    expiry = redemption.delivered_at.date().replace(year=redemption.delivered_at.year + 1)
    assert response.context["codes"][0].expires_on == expiry
    assert "Show the code at the till." in page
    assert "Reward terms here." in page
    assert "<svg" in page  # the QR code
    # The page links its own PDF (the token is the page's, whatever second it was made).
    assert f"{response.request['PATH_INFO']}voucher.pdf" in page


def test_every_view_is_a_code_reveal_and_the_first_one_claims(client):
    redemption = delivered()
    delivery.delivery_email_send(redemption=redemption, base_url=BASE_URL)
    code = the_code(redemption)

    client.get(page_of(redemption))
    client.get(page_of(redemption))

    assert list(CodeReveal.objects.filter(code=code).values_list("via", flat=True)) == [
        "claim_page",
        "claim_page",
    ]
    redemption.refresh_from_db()
    assert redemption.delivery_status == "claimed"
    assert delivery_events(redemption) == [
        ("none", "sent", "system"),
        ("sent", "claimed", "member"),
    ]


def test_the_page_speaks_the_members_language(client):
    redemption = delivered(locale="fr", name="Gift card", name_fr="Carte cadeau")

    response = client.get(page_of(redemption))

    page = response.content.decode()
    assert '<html lang="fr"' in page
    assert "Carte cadeau" in page
    assert "25,00\xa0$US" in page


def test_the_pdf_downloads_and_counts_as_a_view(client):
    redemption = delivered()

    response = client.get(f"{page_of(redemption)}voucher.pdf")

    assert response.status_code == 200
    assert_private(response)
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    assert response.content.startswith(b"%PDF")
    assert CodeReveal.objects.filter(code=the_code(redemption), via="claim_page").count() == 1
    redemption.refresh_from_db()
    assert redemption.delivery_status == "claimed"


def test_a_redemption_on_its_way_shows_the_waiting_page_and_no_code(client):
    redemption = delivered(deliver=False)

    response = client.get(page_of(redemption))

    assert response.status_code == 200
    assert_private(response)
    assert "on its way" in response.content.decode()
    assert CodeReveal.objects.count() == 0
    redemption.refresh_from_db()
    assert redemption.delivery_status == "none"
    pdf = client.get(f"{page_of(redemption)}voucher.pdf")
    assert pdf["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("token", ["nonsense", "a:b:c", "%3Cscript%3E"])
def test_a_bad_token_gets_the_friendly_404(client, token):
    response = client.get(f"/claim/{token}/")

    assert response.status_code == 404
    assert_private(response)
    assert "We could not find this reward" in response.content.decode()
    assert client.get(f"/claim/{token}/voucher.pdf").status_code == 404


def test_an_expired_link_says_it_expired(client):
    redemption = delivered()
    old = _SignedLongAgo(salt=delivery.CLAIM_LINK_SALT).sign(str(redemption.public_id))

    response = client.get(f"/claim/{old}/")

    assert response.status_code == 404
    assert "This link has expired" in response.content.decode()
    assert CodeReveal.objects.count() == 0


def test_a_token_for_one_redemption_never_shows_another(client):
    first = delivered()
    second = delivered()
    _, stamp, signature = delivery.claim_token(first).split(":")
    forged = f"{second.public_id}:{stamp}:{signature}"
    unsigned = signing.TimestampSigner(salt="guess").sign(str(second.public_id))

    assert client.get(f"/claim/{forged}/").status_code == 404
    assert client.get(f"/claim/{unsigned}/").status_code == 404
    shown = client.get(page_of(first)).content.decode()
    assert the_code(first).code in shown
    assert CodeReveal.objects.filter(code__redemption=second).count() == 0


def test_the_page_is_get_only(client):
    redemption = delivered()

    assert client.post(page_of(redemption)).status_code == 405
    assert CodeReveal.objects.count() == 0


def test_a_fresh_token_still_works_just_before_it_expires(client):
    redemption = delivered()

    class SignedNearlyThirtyDaysAgo(signing.TimestampSigner):
        def timestamp(self) -> str:
            return signing.b62_encode(int(time.time()) - delivery.CLAIM_LINK_DAYS * 86400 + 60)

    token = SignedNearlyThirtyDaysAgo(salt=delivery.CLAIM_LINK_SALT).sign(str(redemption.public_id))

    assert client.get(f"/claim/{token}/").status_code == 200
