"""The member's pages of a member message, ``/m/<merchant>/messages/<token>/...``: the
one-click unsubscribe of RFC 8058 (a POST without a cookie or CSRF token answers 200), a
GET that only asks, the tracked link that marks the message opened once and leads only
to the shop, and a friendly 404 for an unknown token or another merchant's."""

import datetime
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.test import Client

from loyalty.messages import services
from loyalty.models import MemberMessage, MessageKind, MessageOptOut, MessageStatus
from merchants.models import MerchantBrand
from tests.loyalty.factories import member_make, program_merchant

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 12, 1, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture
def sent():
    merchant, _ = program_merchant(name="Northwind Rewards", points_name="Beans")
    MerchantBrand.objects.create(
        merchant=merchant, colour="#0f766e", shop_url="https://northwind.example/shop/"
    )
    member = member_make(
        merchant, email="ana@example.com", first_name="Ana", locale="de", marketing_consent=True
    )
    message = services.message_send(
        member=member,
        kind=MessageKind.POINTS_EXPIRING,
        key="expiring:2026-12-31:30",
        data={"points": 500, "expires_on": datetime.date(2026, 12, 31)},
        now=NOW,
    )
    assert message.status == MessageStatus.SENT
    return message


def url(message: MemberMessage, action: str, slug: str | None = None) -> str:
    return f"/m/{slug or message.merchant.slug}/messages/{message.token}/{action}"


def header_url(message: MemberMessage) -> str:
    """The unsubscribe address the email's header names, as a path."""
    (email,) = mail.outbox
    return urlsplit(email.extra_headers["List-Unsubscribe"].strip("<>")).path


def test_the_one_click_post_unsubscribes_without_a_csrf_token(sent):
    client = Client(enforce_csrf_checks=True)

    response = client.post(header_url(sent), {"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    opt_out = MessageOptOut.objects.get(member=sent.member)
    assert (opt_out.kind, opt_out.source) == (MessageKind.POINTS_EXPIRING, "one-click")
    assert "Sie sind abgemeldet" in response.content.decode()  # the member's language


def test_a_get_asks_and_does_not_unsubscribe(sent, client):
    response = client.get(url(sent, "unsubscribe"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Diese E-Mails abbestellen?" in page
    assert f'action="{url(sent, "unsubscribe")}"' in page
    assert 'method="post"' in page
    assert not MessageOptOut.objects.exists()


def test_the_pages_button_unsubscribes_and_a_later_message_of_the_kind_is_skipped(sent, client):
    response = client.post(url(sent, "unsubscribe"))
    later = services.message_send(
        member=sent.member,
        kind=MessageKind.POINTS_EXPIRING,
        key="expiring:2027-01-31:30",
        data={"points": 5, "expires_on": datetime.date(2027, 1, 31)},
        now=NOW,
    )

    assert response.status_code == 200
    assert MessageOptOut.objects.get(member=sent.member).source == "unsubscribe page"
    assert later.status == MessageStatus.SKIPPED
    assert len(mail.outbox) == 1
    again = client.get(url(sent, "unsubscribe"))
    assert "Sie sind abgemeldet" in again.content.decode()  # says so, offers no button
    assert "<form" not in again.content.decode()


def test_the_link_marks_the_message_opened_once_and_leads_to_the_shop(sent, client):
    first = client.get(url(sent, "open"))
    opened_at = MemberMessage.objects.get(pk=sent.pk).opened_at
    second = client.get(url(sent, "open"))

    assert first.status_code == 302
    assert first["Location"] == "https://northwind.example/shop/"
    assert opened_at is not None
    assert second.status_code == 302
    assert MemberMessage.objects.get(pk=sent.pk).opened_at == opened_at


@pytest.mark.parametrize(
    ("to", "location"),
    [
        ("/rewards?tab=all", "https://northwind.example/rewards?tab=all"),
        ("https://evil.example/", "https://northwind.example/shop/"),
        ("//evil.example/", "https://northwind.example/shop/"),
        ("/\\evil.example/", "https://northwind.example/shop/"),
        ("javascript:alert(1)", "https://northwind.example/shop/"),
        ("evil.example", "https://northwind.example/shop/"),
    ],
)
def test_the_link_leads_only_to_the_shops_own_host(sent, client, to, location):
    response = client.get(url(sent, "open"), {"to": to})

    assert response.status_code == 302
    assert response["Location"] == location


@pytest.mark.parametrize("action", ["unsubscribe", "open"])
def test_an_unknown_token_is_a_friendly_404(sent, client, action):
    response = client.get(f"/m/{sent.merchant.slug}/messages/no-such-token/{action}")

    assert response.status_code == 404
    assert "We could not find this link" in response.content.decode()


@pytest.mark.parametrize("action", ["unsubscribe", "open"])
def test_another_merchants_token_is_a_404_and_changes_nothing(sent, client, action):
    other, _ = program_merchant()

    got = client.get(url(sent, action, slug=other.slug))
    posted = client.post(url(sent, "unsubscribe", slug=other.slug))

    assert got.status_code == 404
    assert posted.status_code == 404
    assert not MessageOptOut.objects.exists()
    assert MemberMessage.objects.get(pk=sent.pk).opened_at is None


def test_the_brand_stylesheet_sets_the_merchants_colour(sent, client):
    response = client.get(f"/m/{sent.merchant.slug}/brand.css")
    missing = client.get("/m/no-such-merchant/brand.css")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    assert "--brand: #0f766e" in response.content.decode()
    assert missing.status_code == 404


def test_the_pages_carry_a_policy_without_inline_script(sent, client):
    response = client.get(url(sent, "unsubscribe"))

    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "<script" not in response.content.decode()
    assert 'style="' not in response.content.decode()


def test_a_bad_link_answers_in_the_browsers_language_framed_by_the_merchant(sent, client):
    known = client.get(
        f"/m/{sent.merchant.slug}/messages/nope/unsubscribe", HTTP_ACCEPT_LANGUAGE="fr"
    )
    unknown = client.get("/m/no-such-merchant/messages/nope/open", HTTP_ACCEPT_LANGUAGE="ja")

    assert known.status_code == unknown.status_code == 404
    assert "avons pas trouvé ce lien" in known.content.decode()
    assert f"/m/{sent.merchant.slug}/brand.css" in known.content.decode()
    assert "このリンクは見つかりませんでした" in unknown.content.decode()
