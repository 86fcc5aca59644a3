"""The member's claim page, ``/claim/<token>/``: the token is the only credential.

Opening the link (GET, as a mail scanner does) shows what the reward is and a button;
only the button's POST shows the code and counts as a reveal."""

import re
import time

import pytest
from django.core import signing
from django.test import Client

from core.actors import Actor
from fulfillment.models import CodeReveal, Redemption, RedemptionEvent
from fulfillment.services import delivery
from tests.fulfillment.test_delivery import (
    BASE_URL,
    _SignedLongAgo,
    delivered,
    delivery_events,
    the_code,
)
from tests.merchants.test_admin_browser import CHROMIUM, page, server_url  # noqa: F401

pytestmark = pytest.mark.django_db


def page_of(redemption: Redemption) -> str:
    return f"/claim/{delivery.claim_token(redemption)}/"


def pdf_of(redemption: Redemption) -> str:
    return f"{page_of(redemption)}voucher.pdf"


def assert_private(response) -> None:
    assert response["Cache-Control"] == "no-store"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Robots-Tag"] == "noindex, nofollow"


def form_token(html: str) -> str:
    (token,) = set(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', html))
    return token


# --- Opening the link --------------------------------------------------------------------


def test_opening_the_link_shows_the_reward_and_a_button_but_no_code(client):
    redemption = delivered(terms="Reward terms here.")
    delivery.delivery_email_send(
        redemption=redemption, base_url=BASE_URL, actor=Actor.system("test")
    )
    code = the_code(redemption)

    response = client.get(page_of(redemption))

    assert response.status_code == 200
    assert_private(response)
    html = response.content.decode()
    assert redemption.reward.brand.name in html
    assert redemption.reward.name in html
    assert "$25.00" in html
    expiry = redemption.delivered_at.date().replace(year=redemption.delivered_at.year + 1)
    assert response.context["expires_on"] == expiry
    assert "Valid until" in html
    assert "Show my code" in html
    path = response.request["PATH_INFO"]
    assert re.search(rf'<form method="post" action="{re.escape(path)}">', html)
    assert 'name="csrfmiddlewaretoken"' in html
    assert code.code not in html
    assert code.pin not in html
    assert "<svg" not in html  # no QR code either
    assert "voucher.pdf" not in html
    assert not CodeReveal.objects.exists()
    redemption.refresh_from_db()
    assert redemption.delivery_status == "sent"
    assert delivery_events(redemption) == [("none", "sent", "system")]


def test_opening_the_link_again_and_again_reveals_nothing(client):
    redemption = delivered()

    for _ in range(3):
        assert client.get(page_of(redemption)).status_code == 200

    assert not CodeReveal.objects.exists()
    redemption.refresh_from_db()
    assert redemption.delivery_status == "none"
    assert not RedemptionEvent.objects.filter(redemption=redemption, field="delivery").exists()


# --- Showing the code --------------------------------------------------------------------


def test_the_button_shows_the_code_pin_expiry_instructions_and_terms(client):
    redemption = delivered(terms="Reward terms here.")
    brand = redemption.reward.brand
    brand.redemption_instructions = "Show the code at the till."
    brand.save()
    code = the_code(redemption)

    response = client.post(page_of(redemption))

    assert response.status_code == 200
    assert_private(response)
    html = response.content.decode()
    assert brand.name in html
    assert redemption.reward.name in html
    assert "$25.00" in html
    assert code.code in html
    assert code.pin in html
    expiry = redemption.delivered_at.date().replace(year=redemption.delivered_at.year + 1)
    assert response.context["codes"][0].expires_on == expiry
    assert "Show the code at the till." in html
    assert "Reward terms here." in html
    assert "<svg" in html  # the QR code
    # The PDF is a button posting to the page's own token (whatever second it was made).
    pdf_form = f'<form method="post" action="{response.request["PATH_INFO"]}voucher.pdf">'
    assert pdf_form in html
    assert "Download the voucher (PDF)" in html


def test_every_reveal_is_recorded_and_the_first_one_claims(client):
    redemption = delivered()
    delivery.delivery_email_send(
        redemption=redemption, base_url=BASE_URL, actor=Actor.system("test")
    )
    code = the_code(redemption)

    client.get(page_of(redemption))
    client.post(page_of(redemption))
    client.post(page_of(redemption))

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

    for response in (client.get(page_of(redemption)), client.post(page_of(redemption))):
        html = response.content.decode()
        assert '<html lang="fr" dir="ltr"' in html
        assert "Carte cadeau" in html
        assert "25,00\xa0$US" in html


def test_the_pdf_downloads_from_its_button_and_counts_as_a_reveal(client):
    redemption = delivered()

    response = client.post(pdf_of(redemption))

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

    for response in (client.get(page_of(redemption)), client.post(page_of(redemption))):
        assert response.status_code == 200
        assert_private(response)
        assert "on its way" in response.content.decode()
    pdf = client.post(pdf_of(redemption))
    assert pdf["Content-Type"].startswith("text/html")
    assert "on its way" in pdf.content.decode()
    assert not CodeReveal.objects.exists()
    redemption.refresh_from_db()
    assert redemption.delivery_status == "none"


# --- Methods and CSRF --------------------------------------------------------------------


@pytest.mark.parametrize("method", ["head", "put", "patch", "delete", "options"])
def test_the_page_answers_only_get_and_post(client, method):
    redemption = delivered()

    response = getattr(client, method)(page_of(redemption))

    assert response.status_code == 405
    assert sorted(response["Allow"].split(", ")) == ["GET", "POST"]
    assert_private(response)
    assert not CodeReveal.objects.exists()


@pytest.mark.parametrize("method", ["get", "head", "put", "delete"])
def test_the_pdf_answers_only_post(client, method):
    redemption = delivered()

    response = getattr(client, method)(pdf_of(redemption))

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert_private(response)
    assert not CodeReveal.objects.exists()
    redemption.refresh_from_db()
    assert redemption.delivery_status == "none"


def test_a_post_without_the_pages_csrf_token_reveals_nothing():
    redemption = delivered()
    client = Client(enforce_csrf_checks=True)

    for url in (page_of(redemption), pdf_of(redemption)):
        response = client.post(url)
        assert response.status_code == 403
        assert_private(response)
    forged = client.post(page_of(redemption), {"csrfmiddlewaretoken": "x" * 64})

    assert forged.status_code == 403
    assert the_code(redemption).code not in forged.content.decode()
    assert not CodeReveal.objects.exists()
    redemption.refresh_from_db()
    assert redemption.delivery_status == "none"


def test_the_buttons_post_with_the_csrf_token_the_page_gave():
    redemption = delivered()
    code = the_code(redemption)
    client = Client(enforce_csrf_checks=True)
    opened = client.get(page_of(redemption))
    assert "csrftoken" in opened.cookies

    shown = client.post(page_of(redemption), {"csrfmiddlewaretoken": form_token(opened.text)})

    assert shown.status_code == 200
    assert code.code in shown.text
    pdf = client.post(pdf_of(redemption), {"csrfmiddlewaretoken": form_token(shown.text)})
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert CodeReveal.objects.filter(code=code).count() == 2


# --- Bad links ---------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["nonsense", "a:b:c", "%3Cscript%3E"])
def test_a_bad_token_gets_the_friendly_404(client, token):
    for response in (client.get(f"/claim/{token}/"), client.post(f"/claim/{token}/")):
        assert response.status_code == 404
        assert_private(response)
        assert "We could not find this reward" in response.content.decode()
    assert client.post(f"/claim/{token}/voucher.pdf").status_code == 404


def test_an_expired_link_says_it_expired(client):
    redemption = delivered()
    old = _SignedLongAgo(salt=delivery.CLAIM_LINK_SALT).sign(str(redemption.public_id))

    for response in (client.get(f"/claim/{old}/"), client.post(f"/claim/{old}/")):
        assert response.status_code == 404
        assert "This link has expired" in response.content.decode()
    assert client.post(f"/claim/{old}/voucher.pdf").status_code == 404
    assert not CodeReveal.objects.exists()


def test_a_token_for_one_redemption_never_shows_another(client):
    first = delivered()
    second = delivered()
    _, stamp, signature = delivery.claim_token(first).split(":")
    forged = f"{second.public_id}:{stamp}:{signature}"
    unsigned = signing.TimestampSigner(salt="guess").sign(str(second.public_id))

    assert client.post(f"/claim/{forged}/").status_code == 404
    assert client.post(f"/claim/{unsigned}/").status_code == 404
    assert client.post(f"/claim/{forged}/voucher.pdf").status_code == 404
    shown = client.post(page_of(first)).content.decode()
    assert the_code(first).code in shown
    assert CodeReveal.objects.filter(code__redemption=second).count() == 0


def test_a_fresh_token_still_works_just_before_it_expires(client):
    redemption = delivered()

    class SignedNearlyThirtyDaysAgo(signing.TimestampSigner):
        def timestamp(self) -> str:
            return signing.b62_encode(int(time.time()) - delivery.CLAIM_LINK_DAYS * 86400 + 60)

    token = SignedNearlyThirtyDaysAgo(salt=delivery.CLAIM_LINK_SALT).sign(str(redemption.public_id))

    assert client.get(f"/claim/{token}/").status_code == 200
    assert client.post(f"/claim/{token}/").status_code == 200


# --- In a browser ------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Chromium at {CHROMIUM}")
@pytest.mark.django_db(transaction=True)
def test_a_member_presses_the_button_and_sees_the_code(server_url, page, tmp_path):  # noqa: F811
    # Outside a test transaction the dispatch task runs (eagerly) as the redemption
    # commits, and delivers it.
    redemption = delivered(deliver=False)
    assert redemption.status == "delivered"
    code = the_code(redemption)

    page.goto(f"{server_url}{page_of(redemption)}")
    assert page.locator(".value").inner_text() == "$25.00"
    assert code.code not in page.content()
    assert not CodeReveal.objects.exists()
    page.screenshot(path=str(tmp_path / "claim-opened.png"), full_page=True)

    page.get_by_role("button", name="Show my code").click()
    page.wait_for_selector(".code")
    assert page.locator(".code").first.inner_text() == code.code
    page.screenshot(path=str(tmp_path / "claim-revealed.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the voucher (PDF)").click()
    assert download.value.suggested_filename.startswith("voucher-")
    assert download.value.path().read_bytes().startswith(b"%PDF")

    assert CodeReveal.objects.filter(code=code).count() == 2
    redemption.refresh_from_db()
    assert redemption.delivery_status == "claimed"
