"""The member portal's frame and sign-in, ``/m/<merchant>/``: per-merchant sessions, the
store's signed link, the email link (a page, then a POST, once), the email form that
reveals nothing and is throttled, sign-out, and the pages showing the member's own
figures and nobody else's."""

import datetime
import io
import re
import time
from urllib.parse import urlsplit

import pytest
import time_machine
from django.core import mail
from django.test import Client, override_settings

from core.actors import SYSTEM
from integrations.widget.tokens import token_make
from loyalty.models import MemberStatus, MessageKind, MessageOptOut, Program
from merchants.services.stores import store_create
from portals.demo import member_portal_links
from portals.member_session import SESSION_KEY, email_link_token
from tests.loyalty.factories import member_make, order_post, points_give, program_merchant

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    merchant, _program = program_merchant(name="Northwind Rewards", points_name="Beans")
    store, secret = store_create(
        merchant=merchant,
        name="Shop",
        platform="shopify",
        domain="northwind.example",
        actor=SYSTEM,
    )
    member = member_make(
        merchant,
        "cust-ana",
        email="ana@example.com",
        first_name="Ana",
        locale="en",
        points=1234,
    )
    return merchant, store, secret, member


@pytest.fixture
def other():
    merchant, _ = program_merchant(name="Bolt Bikes", points_name="Bolts")
    store, secret = store_create(
        merchant=merchant, name="Bikes", platform="shopify", domain="bolt.example", actor=SYSTEM
    )
    member = member_make(merchant, "cust-ana", email="ana@example.com", first_name="Ana", points=7)
    return merchant, store, secret, member


def store_link(merchant, store, secret, external_id, *, expires=None, token=None) -> str:
    expires = expires or int(time.time()) + 300
    token = token or token_make(
        secret=secret, store_public_id=store.public_id, external_id=external_id, expires=expires
    )
    return f"/m/{merchant.slug}/login/store?store={store.public_id}&token={token}"


def signed_in(shop_tuple, client: Client | None = None) -> Client:
    merchant, store, secret, member = shop_tuple
    client = client or Client()
    response = client.get(store_link(merchant, store, secret, member.external_id))
    assert response.status_code == 302
    return client


def email_link(email) -> str:
    return urlsplit(re.search(r"https?://\S+", email.body).group(0)).path


# -- the store's link ---------------------------------------------------------------------------


def test_store_link_signs_in_and_leaves_the_token_out_of_the_address(shop):
    merchant, store, secret, member = shop
    client = Client()
    response = client.get(store_link(merchant, store, secret, member.external_id))
    assert response.status_code == 302
    assert response["Location"] == f"/m/{merchant.slug}/"
    assert "token" not in response["Location"]
    home = client.get(response["Location"])
    assert home.status_code == 200
    assert "1,234" in home.content.decode()


def test_store_link_rotates_the_session_key(shop):
    merchant, store, secret, member = shop
    client = Client()
    client.get(f"/m/{merchant.slug}/login/")
    session = client.session
    session["seen"] = 1
    session.save()
    before = client.cookies["sessionid"].value
    client.get(store_link(merchant, store, secret, member.external_id))
    assert client.cookies["sessionid"].value != before


def test_expired_store_link_is_refused_with_the_email_sign_in(shop):
    merchant, store, secret, member = shop
    response = Client().get(
        store_link(merchant, store, secret, member.external_id, expires=int(time.time()) - 3600)
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "This link does not work" in body
    assert 'name="email"' in body


def test_tampered_store_link_is_refused(shop):
    merchant, store, secret, member = shop
    good = token_make(
        secret=secret,
        store_public_id=store.public_id,
        external_id=member.external_id,
        expires=int(time.time()) + 300,
    )
    tampered = good.replace("cust-ana", "cust-bob")
    client = Client()
    response = client.get(store_link(merchant, store, secret, "", token=tampered))
    assert response.status_code == 400
    assert client.get(f"/m/{merchant.slug}/").status_code == 302


def test_store_link_too_far_in_the_future_is_refused(shop):
    merchant, store, secret, member = shop
    response = Client().get(
        store_link(merchant, store, secret, member.external_id, expires=int(time.time()) + 7200)
    )
    assert response.status_code == 400


def test_another_merchants_store_cannot_sign_in_here(shop, other):
    merchant = shop[0]
    _, other_store, other_secret, _other_member = other
    # A genuine token of the other merchant's store, sent to this merchant's portal.
    response = Client().get(store_link(merchant, other_store, other_secret, "cust-ana"))
    assert response.status_code == 400


# -- per-merchant sessions ----------------------------------------------------------------------


def test_a_session_with_one_merchant_is_not_signed_in_with_another(shop, other):
    client = signed_in(shop)
    response = client.get(f"/m/{other[0].slug}/")
    assert response.status_code == 302
    assert response["Location"].startswith(f"/m/{other[0].slug}/login/")


def test_two_merchants_two_sign_ins_each_its_own_member(shop, other):
    client = signed_in(shop)
    signed_in(other, client)
    mine = client.get(f"/m/{shop[0].slug}/").content.decode()
    theirs = client.get(f"/m/{other[0].slug}/").content.decode()
    assert "1,234" in mine
    assert "Beans" in mine
    assert "Bolts" not in mine
    assert "Bolts" in theirs
    assert "1,234" not in theirs


def test_sign_out_of_one_merchant_keeps_the_other(shop, other):
    client = signed_in(shop)
    signed_in(other, client)
    response = client.post(f"/m/{shop[0].slug}/logout")
    assert response.status_code == 302
    assert client.get(f"/m/{shop[0].slug}/").status_code == 302
    assert client.get(f"/m/{other[0].slug}/").status_code == 200


def test_sign_out_everywhere(shop, other):
    client = signed_in(shop)
    signed_in(other, client)
    client.post(f"/m/{shop[0].slug}/logout", {"everywhere": "1"})
    assert SESSION_KEY not in client.session
    assert client.get(f"/m/{other[0].slug}/").status_code == 302


def test_sign_out_needs_a_post(shop):
    client = signed_in(shop)
    assert client.get(f"/m/{shop[0].slug}/logout").status_code == 405
    assert client.get(f"/m/{shop[0].slug}/").status_code == 200


def test_a_blocked_member_is_signed_out(shop):
    client = signed_in(shop)
    member = shop[3]
    type(member).objects.filter(pk=member.pk).update(status=MemberStatus.BLOCKED)
    assert client.get(f"/m/{shop[0].slug}/").status_code == 302


# -- the decorator ------------------------------------------------------------------------------


def test_not_signed_in_goes_to_the_sign_in_page_and_back(shop):
    merchant = shop[0]
    response = Client().get(f"/m/{merchant.slug}/history/?page=2")
    assert response.status_code == 302
    assert response["Location"] == (
        f"/m/{merchant.slug}/login/?next=%2Fm%2F{merchant.slug}%2Fhistory%2F%3Fpage%3D2"
    )


def test_unknown_merchant_is_a_404():
    assert Client().get("/m/no-such-shop/").status_code == 404
    assert Client().get("/m/no-such-shop/login/").status_code == 404


def test_a_merchant_not_live_has_no_portal(shop):
    merchant = shop[0]
    type(merchant).objects.filter(pk=merchant.pk).update(status="offboarded")
    assert Client().get(f"/m/{merchant.slug}/login/").status_code == 404


def test_next_may_not_leave_the_portal(shop):
    merchant, _, _, member = shop
    client = Client()
    client.post(
        f"/m/{merchant.slug}/login/", {"email": member.email, "next": "https://evil.example/"}
    )
    path = email_link(mail.outbox[0])
    response = client.post(path + "?next=https://evil.example/")
    assert response["Location"] == f"/m/{merchant.slug}/"


def test_language_is_the_members_else_the_browsers(shop):
    merchant, _, _, member = shop
    page = Client().get(f"/m/{merchant.slug}/login/", headers={"accept-language": "ar,en;q=0.5"})
    assert 'dir="rtl"' in page.content.decode()
    assert page["Content-Language"] == "ar"
    assert Client().get(f"/m/{merchant.slug}/login/")["Content-Language"] == "en"
    type(member).objects.filter(pk=member.pk).update(locale="fr-FR")
    client = signed_in(shop)
    home = client.get(f"/m/{merchant.slug}/", headers={"accept-language": "de"})
    assert home["Content-Language"] == "fr"


# -- the email link -----------------------------------------------------------------------------


def test_email_form_answers_the_same_for_members_and_strangers(shop):
    merchant = shop[0]
    known = Client().post(f"/m/{merchant.slug}/login/", {"email": "ana@example.com"})
    unknown = Client().post(f"/m/{merchant.slug}/login/", {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 200

    def text(response, email):
        return response.content.decode().replace(email, "EMAIL")

    assert text(known, "ana@example.com") == text(unknown, "nobody@example.com")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ana@example.com"]


def test_email_is_branded_with_text_and_html_in_the_members_language(shop):
    merchant, _, _, member = shop
    type(member).objects.filter(pk=member.pk).update(locale="fr")
    Client().post(f"/m/{merchant.slug}/login/", {"email": "ANA@example.com"})
    (email,) = mail.outbox
    assert merchant.name in email.subject
    assert merchant.name in email.from_email
    html, kind = email.alternatives[0]
    assert kind == "text/html"
    assert 'lang="fr"' in html
    assert f"/m/{merchant.slug}/login/link/" in email.body


def test_email_of_another_merchants_member_gets_nothing(shop, other):
    Client().post(f"/m/{shop[0].slug}/login/", {"email": "nobody-here@example.com"})
    assert mail.outbox == []


def test_email_link_signs_in_only_after_a_post_and_only_once(shop):
    merchant = shop[0]
    Client().post(f"/m/{merchant.slug}/login/", {"email": "ana@example.com"})
    path = email_link(mail.outbox[0])
    client = Client()
    page = client.get(path)
    assert page.status_code == 200
    assert "Continue" in page.content.decode()
    assert client.get(f"/m/{merchant.slug}/").status_code == 302  # the GET signed nobody in
    response = client.post(path)
    assert response.status_code == 302
    assert client.get(f"/m/{merchant.slug}/").status_code == 200
    again = Client().post(path)
    assert again.status_code == 400
    assert "This link does not work" in again.content.decode()


def test_email_link_expires_after_15_minutes(shop):
    merchant, _, _, member = shop
    with time_machine.travel(time.time() - 16 * 60):
        token = email_link_token(member=member)
    response = Client().post(f"/m/{merchant.slug}/login/link/{token}")
    assert response.status_code == 400


def test_email_link_of_one_merchant_does_not_open_another(shop, other):
    token = email_link_token(member=shop[3])
    assert Client().post(f"/m/{other[0].slug}/login/link/{token}").status_code == 400


def test_tampered_email_link_is_refused(shop):
    merchant, _, _, member = shop
    token = email_link_token(member=member)
    broken = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    response = Client().get(f"/m/{merchant.slug}/login/link/{broken}")
    assert response.status_code == 400
    assert 'name="email"' in response.content.decode()


@override_settings(MEMBER_SIGNIN_EMAIL_RATE=(2, 3600))
def test_email_requests_are_throttled_per_address(shop):
    merchant = shop[0]
    client = Client()
    for _ in range(2):
        assert (
            client.post(f"/m/{merchant.slug}/login/", {"email": "ana@example.com"}).status_code
            == 200
        )
    refused = client.post(f"/m/{merchant.slug}/login/", {"email": "Ana@Example.com"})
    assert refused.status_code == 429
    assert len(mail.outbox) == 2
    # Another address is still served.
    assert client.post(f"/m/{merchant.slug}/login/", {"email": "x@example.com"}).status_code == 200


@override_settings(MEMBER_SIGNIN_IP_RATE=(3, 3600))
def test_email_requests_are_throttled_per_client_address(shop):
    merchant = shop[0]
    client = Client()
    for number in range(3):
        client.post(f"/m/{merchant.slug}/login/", {"email": f"p{number}@example.com"})
    refused = client.post(f"/m/{merchant.slug}/login/", {"email": "ana@example.com"})
    assert refused.status_code == 429
    assert mail.outbox == []


def test_email_form_needs_csrf(shop):
    client = Client(enforce_csrf_checks=True)
    response = client.post(f"/m/{shop[0].slug}/login/", {"email": "ana@example.com"})
    assert response.status_code == 403


# -- the pages ----------------------------------------------------------------------------------


PAGES = ["", "history/", "earn/", "achievements/", "refer/", "profile/"]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_for_the_member(shop, page):
    client = signed_in(shop)
    response = client.get(f"/m/{shop[0].slug}/{page}")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Hi, Ana" in body
    assert "<script" not in body
    assert "style=" not in body
    assert response["Cache-Control"] == "private, no-store"


@pytest.mark.parametrize("page", PAGES)
def test_every_page_needs_a_sign_in(shop, page):
    response = Client().get(f"/m/{shop[0].slug}/{page}")
    assert response.status_code == 302


def test_home_shows_spendable_pending_and_expiring_points(shop):
    merchant, _, _, _member = shop
    client = signed_in(shop)
    body = client.get(f"/m/{merchant.slug}/").content.decode()
    assert "1,234" in body
    assert "Beans" in body


def test_history_lists_the_members_entries_only(shop, other):
    merchant, _, _, member = shop
    order_post(merchant, member, "42.00", external_id="order-1043")
    points_give(other[3], 999)
    client = signed_in(shop)
    body = client.get(f"/m/{merchant.slug}/history/").content.decode()
    assert "For order order-1043" in body
    assert "+42 Beans" in body
    assert "999" not in body
    earned = client.get(f"/m/{merchant.slug}/history/?show=spent").content.decode()
    assert "order-1043" not in earned


def test_history_paginates(shop):
    merchant, _, _, member = shop
    for _ in range(25):
        points_give(member, 1)
    client = signed_in(shop)
    first = client.get(f"/m/{merchant.slug}/history/").content.decode()
    assert "Page 1 of 2" in first
    assert client.get(f"/m/{merchant.slug}/history/?page=2").status_code == 200


def test_ways_to_earn_states_the_base_rate(shop):
    client = signed_in(shop)
    body = client.get(f"/m/{shop[0].slug}/earn/").content.decode()
    assert "1 Beans for every $1.00 you spend" in body


def test_refer_shows_the_code_and_a_mailto_link(shop):
    client = signed_in(shop)
    body = client.get(f"/m/{shop[0].slug}/refer/").content.decode()
    assert 'id="referral-link"' in body
    assert "readonly" in body
    assert 'href="mailto:?subject=' in body


def test_profile_saves_name_locale_consent_and_message_preferences(shop):
    merchant, _, _, member = shop
    client = signed_in(shop)
    response = client.post(
        f"/m/{merchant.slug}/profile/",
        {
            "first_name": "Anna",
            "last_name": "Lind",
            "locale": "de",
            "marketing_consent": "on",
            "messages": [MessageKind.TIER_REACHED],
        },
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert (member.first_name, member.last_name, member.locale) == ("Anna", "Lind", "de")
    assert member.marketing_consent is True
    opted_out = set(MessageOptOut.objects.filter(member=member).values_list("kind", flat=True))
    assert MessageKind.POINTS_EXPIRING in opted_out
    assert MessageKind.TIER_REACHED not in opted_out
    page = client.get(response["Location"])
    assert page["Content-Language"] == "de"


def test_language_switch_sets_the_members_locale(shop):
    merchant, _, _, member = shop
    client = signed_in(shop)
    response = client.post(
        f"/m/{merchant.slug}/language", {"language": "ar", "next": f"/m/{merchant.slug}/history/"}
    )
    assert response["Location"] == f"/m/{merchant.slug}/history/"
    member.refresh_from_db()
    assert member.locale == "ar"
    assert 'dir="rtl"' in client.get(f"/m/{merchant.slug}/history/").content.decode()


# -- the demo's sign-in links -------------------------------------------------------------------


def test_demo_prints_a_store_link_that_signs_in_and_the_email_page(shop):
    merchant = shop[0]
    out = io.StringIO()
    member_portal_links(out=out, base_url="http://testserver")
    text = out.getvalue()
    assert f"http://testserver/m/{merchant.slug}/login/  with ana@example.com" in text
    link = re.search(rf"http://testserver(/m/{merchant.slug}/login/store\?\S+)", text).group(1)
    client = Client()
    assert client.get(link)["Location"] == f"/m/{merchant.slug}/"
    assert client.get(f"/m/{merchant.slug}/").status_code == 200


def test_history_dates_are_the_merchants_days(shop):
    merchant, _, _, member = shop
    type(merchant).objects.filter(pk=merchant.pk).update(timezone="Pacific/Auckland")
    with time_machine.travel(datetime.datetime(2026, 3, 1, 20, 0, tzinfo=datetime.UTC)):
        points_give(member, 5)
        client = signed_in(shop)
        body = client.get(f"/m/{merchant.slug}/history/").content.decode()
    # 20:00 UTC on March 1 is already March 2 in Auckland.
    assert 'datetime="2026-03-02"' in body


@pytest.mark.parametrize("page", PAGES)
def test_page_queries_do_not_grow_with_the_history(shop, page, django_assert_max_num_queries):
    merchant, _, _, member = shop
    for number in range(30):
        order_post(merchant, member, "10.00", external_id=f"q-{number}")
    client = signed_in(shop)
    with django_assert_max_num_queries(25):
        assert client.get(f"/m/{merchant.slug}/{page}").status_code == 200


def test_home_shows_pending_points_with_the_day_they_become_spendable(shop):
    merchant, _, _, member = shop
    type(merchant).objects.filter(pk=merchant.pk).update(timezone="Pacific/Auckland")
    Program.objects.filter(merchant=merchant, is_active=True).update(pending_days=14)
    type(merchant).objects.filter(pk=merchant.pk).update(config_version="pending-14")
    with time_machine.travel(datetime.datetime(2026, 3, 1, 20, 0, tzinfo=datetime.UTC)):
        order_post(merchant, member, "64.00", external_id="1043")
        body = signed_in(shop).get(f"/m/{merchant.slug}/").content.decode()
    assert "64 Beans spendable on Mar 16, 2026" in body
