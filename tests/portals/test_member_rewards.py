"""The member portal's rewards: the catalog as the API lists it for the member, the redeem
flow (value, delivery details, confirmation, result) through the API's service and
idempotent against double submits, "My rewards", and the codes behind a recent sign-in."""

import datetime
import re
import threading

import pytest
import time_machine
from django.db import connections
from django.test import Client
from django.utils import timezone

from catalog.models import RewardStatus
from catalog.services import reward_save
from core.actors import SYSTEM
from fulfillment.models import CodeReveal, Redemption, RedemptionEvent
from loyalty import ledger
from loyalty.models import LedgerEntry, Member, Program
from merchants.services.stores import store_create
from portals.views.member_words import entry_words
from tests.catalog.factories import OfferFactory, RewardFactory, select
from tests.fulfillment.factories import redemption_delivered, sandbox_offer
from tests.loyalty.achievements.helpers import achievement_make
from tests.loyalty.factories import member_make, program_merchant
from tests.portals.test_member_portal import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    merchant, _program = program_merchant(name="Northwind Rewards", points_name="Beans")
    store, secret = store_create(
        merchant=merchant, name="Shop", platform="shopify", domain="nw.example", actor=SYSTEM
    )
    member = member_make(
        merchant,
        "cust-ana",
        email="ana@example.com",
        first_name="Ana",
        last_name="Lima",
        locale="en",
        country="US",
        points=3000,
    )
    return merchant, store, secret, member


def card(merchant, *, name="Aurora gift card", **fields):
    """A reward in the merchant's catalog with an in-stock offer in the US, one point a
    step: 10 USD is 1,000 points."""
    reward = RewardFactory(name=name, **fields)
    OfferFactory(reward=reward, country="US")
    select(merchant, reward, price_step=1)
    return reward


def url(merchant, path=""):
    return f"/m/{merchant.slug}/{path}"


def confirm(client, merchant, reward, data):
    """The form posted: the confirmation page and its key."""
    response = client.post(url(merchant, f"rewards/{reward.pk}/"), data)
    assert response.status_code == 200, response.content.decode()[:2000]
    key = re.search(r'name="key" value="([^"]+)"', response.content.decode()).group(1)
    return response, key


def redeem(client, merchant, reward, data, key):
    return client.post(url(merchant, f"rewards/{reward.pk}/redeem"), {**data, "key": key})


# -- the list -------------------------------------------------------------------------------


def test_rewards_list_the_members_catalog_with_prices_and_affordability(shop):
    merchant, *_ = shop
    cheap = card(merchant, name="Aurora gift card", denominations=["10", "25"])
    dear = card(merchant, name="Big TV voucher", denominations=["100"])
    elsewhere = RewardFactory(name="Paris only", countries=["FR"], face_currency="EUR")
    OfferFactory(reward=elsewhere, country="FR", cost_currency="EUR")
    select(merchant, elsewhere, price_step=1)
    page = signed_in(shop).get(url(merchant, "rewards/")).content.decode()
    assert cheap.name in page
    assert dear.name in page
    assert "Paris only" not in page  # not redeemable in the member's country
    assert "From 1,000 Beans" in page
    assert "You can get this now" in page
    assert "7,000 Beans to go" in page  # 10,000 for the TV, 3,000 in hand
    assert "You have <strong>3,000</strong> Beans to spend" in page


def test_within_my_points_and_type_filters(shop):
    merchant, *_ = shop
    card(merchant, name="Aurora gift card", denominations=["10"])
    card(merchant, name="Big TV voucher", denominations=["100"], type="voucher")
    client = signed_in(shop)
    within = client.get(url(merchant, "rewards/"), {"within": "1"}).content.decode()
    assert "Aurora gift card" in within
    assert "Big TV voucher" not in within
    vouchers = client.get(url(merchant, "rewards/"), {"type": "voucher"}).content.decode()
    assert "Big TV voucher" in vouchers
    assert "Aurora gift card" not in vouchers
    # An unknown type is no filter, not an error.
    assert client.get(url(merchant, "rewards/"), {"type": "<x>", "page": "zz"}).status_code == 200


def test_rewards_paginate(shop):
    merchant, *_ = shop
    for number in range(14):
        card(merchant, name=f"Card {number:02d}", denominations=["10"])
    client = signed_in(shop)
    first = client.get(url(merchant, "rewards/")).content.decode()
    second = client.get(url(merchant, "rewards/"), {"page": "2"}).content.decode()
    assert first.count('class="reward-card"') == 12
    assert second.count('class="reward-card"') == 2
    assert "Page 2 of 2" in second


def test_signed_out_visitors_go_to_the_sign_in(shop):
    merchant, *_ = shop
    reward = card(merchant)
    for path in ("rewards/", f"rewards/{reward.pk}/", "my-rewards/"):
        response = Client().get(url(merchant, path))
        assert response.status_code == 302
        assert "/login/" in response["Location"]


def test_a_reward_the_member_cannot_redeem_is_a_friendly_404(shop):
    merchant, *_ = shop
    other, _ = program_merchant(name="Bolt")
    theirs = card(other, name="Their card")
    retired = card(merchant, name="Old card")
    retired.status = RewardStatus.RETIRED
    reward_save(reward=retired, actor=SYSTEM)
    client = signed_in(shop)
    for reward_id in (theirs.pk, retired.pk, 2**63 + 5, 0):
        response = client.get(url(merchant, f"rewards/{reward_id}/"))
        assert response.status_code == 404
        assert "This is not available to you" in response.content.decode()


# -- redeeming ------------------------------------------------------------------------------


def test_redeem_from_form_to_confirmation_to_result(shop):
    merchant, *_ = shop
    reward = card(merchant, denominations=["10", "25"])
    client = signed_in(shop)
    page = client.get(url(merchant, f"rewards/{reward.pk}/")).content.decode()
    assert 'value="ana@example.com"' in page  # the member's address, to change if they like
    assert "2,500 Beans" in page
    data = {"value": "25", "email": "ana.gift@example.com"}
    response, key = confirm(client, merchant, reward, data)
    text = response.content.decode()
    assert "Confirm: spend 2,500 Beans" in text
    assert "500 Beans" in text  # left after
    assert Redemption.objects.count() == 0  # nothing spent before the confirmation
    result = redeem(client, merchant, reward, data, key)
    assert result.status_code == 303
    redemption = Redemption.objects.get()
    assert result["Location"] == url(merchant, f"my-rewards/{redemption.public_id}/?new=1")
    assert redemption.external_id == f"portal-{redemption.member_id}-{key}"
    assert redemption.recipient == {"email": "ana.gift@example.com"}
    assert redemption.points_total == 2500
    assert Member.objects.get(pk=redemption.member_id).points_balance == 500
    created = RedemptionEvent.objects.get(redemption=redemption, from_value="")
    assert created.source == "member"
    done = client.get(result["Location"]).content.decode()
    assert "Done! Your reward is being prepared." in done


def test_change_on_the_confirmation_brings_the_form_back_filled(shop):
    merchant, *_ = shop
    reward = card(merchant, denominations=["10", "25"])
    client = signed_in(shop)
    data = {"value": "10", "email": "gift@example.com"}
    _response, key = confirm(client, merchant, reward, data)
    back = client.post(url(merchant, f"rewards/{reward.pk}/"), {**data, "key": key, "edit": "1"})
    assert back.status_code == 200
    text = back.content.decode()
    assert 'value="gift@example.com"' in text
    assert "Check and confirm" not in text


def test_a_second_click_replays_the_first_redemption(shop):
    merchant, *_ = shop
    reward = card(merchant, denominations=["10"])
    client = signed_in(shop)
    data = {"value": "10", "email": "ana@example.com"}
    _response, key = confirm(client, merchant, reward, data)
    first = redeem(client, merchant, reward, data, key)
    second = redeem(client, merchant, reward, data, key)
    assert first["Location"].split("?")[0] == second["Location"]
    assert Redemption.objects.count() == 1
    assert Member.objects.get(external_id="cust-ana").points_balance == 2000


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_double_submits_redeem_once(shop):
    merchant, *_ = shop
    reward = card(merchant, denominations=["10"])
    client = signed_in(shop)
    data = {"value": "10", "email": "ana@example.com"}
    _response, key = confirm(client, merchant, reward, data)
    statuses: list[int] = []
    barrier = threading.Barrier(3)

    def submit() -> None:
        try:
            barrier.wait()
            statuses.append(redeem(client, merchant, reward, data, key).status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [303, 303, 303]
    assert Redemption.objects.count() == 1
    assert Member.objects.get(external_id="cust-ana").points_balance == 2000


@pytest.mark.parametrize(
    ("fields", "data", "field", "message"),
    [
        (["email"], {"value": "10", "email": "not-an-email"}, "email", "Enter an email address"),
        (["email"], {"value": "11", "email": "a@example.com"}, "value", "Choose one of the values"),
        (["email"], {"value": "1e9", "email": "a@example.com"}, "value", "Choose one of the"),
        (["email"], {"value": "1e999999", "email": "a@example.com"}, "value", "Choose one of"),
        (["email"], {"value": "-1e-999999", "email": "a@example.com"}, "value", "Choose one of"),
        (["email"], {"value": "NaN", "email": "a@example.com"}, "value", "Choose one of the"),
        (["email"], {"value": "50", "email": "a@example.com"}, "value", "This one costs 5,000"),
        (
            ["phone"],
            {"value": "10", "phone": "+44 20 7946 0958"},
            "phone",
            "Enter a mobile number of United States",
        ),
        (
            ["postal_address"],
            {
                "value": "10",
                "name": "Ana",
                "line1": "1 Main St",
                "city": "Austin",
                "postal_code": "AB",
            },
            "postal_code",
            "Enter a postal code of United States",
        ),
        (
            ["postal_address"],
            {"value": "10", "name": "Ana", "city": "Austin", "postal_code": "73301"},
            "line1",
            "This field is required",
        ),
        (
            ["postal_address"],
            {"value": "10", "name": "A" * 121, "line1": "x", "city": "y", "postal_code": "73301"},
            "name",
            "at most 120 characters",
        ),
    ],
)
def test_bad_input_is_told_next_to_its_field_and_spends_nothing(shop, fields, data, field, message):
    merchant, *_ = shop
    reward = card(merchant, denominations=["10", "25", "50"], recipient_fields=fields)
    client = signed_in(shop)
    response = client.post(url(merchant, f"rewards/{reward.pk}/"), data)
    assert response.status_code == 400
    text = response.content.decode()
    assert message in text
    assert "Check and confirm" not in text
    # The same data sent straight to the redeem step (a forged confirmation) spends nothing.
    forged = redeem(client, merchant, reward, data, "k" * 24)
    assert forged.status_code == 400
    assert Redemption.objects.count() == 0
    assert Member.objects.get(external_id="cust-ana").points_balance == 3000


def test_a_good_address_and_phone_are_kept_cleaned(shop):
    merchant, *_ = shop
    reward = card(merchant, type="physical", recipient_fields=["postal_address", "phone"])
    client = signed_in(shop)
    data = {
        "value": "10",
        "phone": "(415) 555-0132",
        "name": "Ana Lima",
        "line1": "1 Main St",
        "city": "Austin",
        "region": "TX",
        "postal_code": "73301",
    }
    page, key = confirm(client, merchant, reward, data)
    assert "United States" in page.content.decode()
    assert "+1 415-555-0132" in page.content.decode()
    assert redeem(client, merchant, reward, data, key).status_code == 303
    recipient = Redemption.objects.get().recipient
    assert recipient["phone"] == "+14155550132"
    assert recipient["postal_address"]["country"] == "US"
    assert recipient["postal_address"]["postal_code"] == "73301"


def test_a_malformed_key_redeems_nothing(shop):
    merchant, *_ = shop
    reward = card(merchant)
    client = signed_in(shop)
    for key in ("", "short", "x" * 41, "bad key with spaces!!"):
        response = redeem(client, merchant, reward, {"value": "10", "email": "a@example.com"}, key)
        assert response.status_code == 303
        assert response["Location"] == url(merchant, f"rewards/{reward.pk}/")
    assert Redemption.objects.count() == 0


def test_points_spent_meanwhile_are_told_in_words(shop):
    merchant, _store, _secret, member = shop
    reward = card(merchant, denominations=["25"])
    client = signed_in(shop)
    data = {"value": "25", "email": "ana@example.com"}
    _response, key = confirm(client, merchant, reward, data)
    ledger.points_adjust(
        member=member,
        points=-1000,
        reason="correction",
        at=timezone.now(),
        expires_at=None,
        actor=SYSTEM,
    )
    response = redeem(client, merchant, reward, data, key)
    assert response.status_code == 400  # the page now says how far the member is
    assert "500 more Beans to go" in response.content.decode()
    assert Redemption.objects.count() == 0


def test_sold_out_at_the_confirmation_is_a_409_in_words(shop):
    merchant, *_ = shop
    reward = RewardFactory(name="Last one", denominations=["10"])
    offer = OfferFactory(reward=reward, country="US", stock=1)
    select(merchant, reward, price_step=1)
    client = signed_in(shop)
    data = {"value": "10", "email": "ana@example.com"}
    _response, key = confirm(client, merchant, reward, data)
    offer.stock = 0
    offer.save(update_fields=["stock"])
    response = redeem(client, merchant, reward, data, key)
    # Sold out is unavailable in the catalog now: the reward's page says so.
    assert response.status_code in (404, 409)
    assert Redemption.objects.count() == 0


def test_the_redeem_step_checks_csrf(shop):
    merchant, _store, _secret, _member = shop
    reward = card(merchant)
    client = signed_in(shop, Client(enforce_csrf_checks=True))
    response = redeem(client, merchant, reward, {"value": "10", "email": "a@example.com"}, "k" * 24)
    assert response.status_code == 403
    assert Redemption.objects.count() == 0


# -- my rewards -----------------------------------------------------------------------------


def test_my_rewards_show_the_members_own_redemptions_only(shop):
    merchant, _store, _secret, member = shop
    offer = sandbox_offer(merchant)
    mine = redemption_delivered(merchant, member, offer)
    someone = member_make(merchant, "cust-bo", points=5000, country="US")
    theirs = redemption_delivered(merchant, someone, offer)
    client = signed_in(shop)
    page = client.get(url(merchant, "my-rewards/")).content.decode()
    assert str(mine.public_id) in page
    assert str(theirs.public_id) not in page
    assert "Delivered" in page
    detail = client.get(url(merchant, f"my-rewards/{mine.public_id}/")).content.decode()
    assert "What happened" in detail
    assert "Redeemed" in detail
    assert "Show my code" in detail
    assert f'href="{url(merchant, "help/new/")}?reward={mine.public_id}"' in detail
    assert client.get(url(merchant, f"my-rewards/{theirs.public_id}/")).status_code == 404
    assert client.post(url(merchant, f"my-rewards/{theirs.public_id}/code")).status_code == 404
    assert (
        client.post(url(merchant, f"my-rewards/{theirs.public_id}/voucher.pdf")).status_code == 404
    )
    assert client.get(url(merchant, "my-rewards/not-a-uuid/")).status_code == 404
    assert CodeReveal.objects.count() == 0


def test_another_merchants_redemption_is_a_404_with_this_session(shop):
    merchant, *_ = shop
    other, _ = program_merchant(name="Bolt")
    bo = member_make(other, "cust-ana", points=5000, country="US")
    theirs = redemption_delivered(other, bo)
    client = signed_in(shop)
    assert client.get(url(merchant, f"my-rewards/{theirs.public_id}/")).status_code == 404
    # Their portal does not know this session at all.
    response = client.get(url(other, f"my-rewards/{theirs.public_id}/"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_show_my_code_opens_the_claim_page_after_a_recent_sign_in(shop):
    merchant, _store, _secret, member = shop
    redemption = redemption_delivered(merchant, member)
    client = signed_in(shop)
    response = client.post(url(merchant, f"my-rewards/{redemption.public_id}/code"))
    assert response.status_code == 303
    assert response["Location"].startswith("/claim/")
    claim = client.get(response["Location"])
    assert claim.status_code == 200
    assert "Show my code" in claim.content.decode()


def test_codes_need_a_fresh_sign_in(shop):
    merchant, _store, _secret, member = shop
    redemption = redemption_delivered(merchant, member)
    client = signed_in(shop)
    later = timezone.now() + datetime.timedelta(minutes=16)
    with time_machine.travel(later, tick=False):
        for path in ("code", "voucher.pdf"):
            response = client.post(url(merchant, f"my-rewards/{redemption.public_id}/{path}"))
            assert response.status_code == 403
            text = response.content.decode()
            assert "Please sign in again" in text
            assert f"/m/{merchant.slug}/my-rewards/{redemption.public_id}/" in text  # comes back
    assert CodeReveal.objects.count() == 0


def test_the_voucher_pdf_is_recorded_as_a_showing(shop):
    merchant, _store, _secret, member = shop
    redemption = redemption_delivered(merchant, member)
    client = signed_in(shop)
    response = client.post(url(merchant, f"my-rewards/{redemption.public_id}/voucher.pdf"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert response["Cache-Control"] == "no-store"
    assert CodeReveal.objects.filter(code__redemption=redemption).count() >= 1
    redemption.refresh_from_db()
    assert redemption.delivery_status == "claimed"


def test_a_pending_redemption_offers_no_code(shop):
    merchant, _store, _secret, _member = shop
    reward = card(merchant, denominations=["10"])
    client = signed_in(shop)
    data = {"value": "10", "email": "ana@example.com"}
    _response, key = confirm(client, merchant, reward, data)
    redemption_url = redeem(client, merchant, reward, data, key)["Location"].split("?")[0]
    redemption = Redemption.objects.get()
    if redemption.status != "delivered":
        assert "Show my code" not in client.get(redemption_url).content.decode()
        response = client.post(redemption_url + "code")
        assert response.status_code == 303
        assert response["Location"] == redemption_url


def test_my_rewards_empty_state(shop):
    merchant, *_ = shop
    page = signed_in(shop).get(url(merchant, "my-rewards/")).content.decode()
    assert "You have not redeemed a reward yet." in page


# -- on the home page and in the history --------------------------------------------------------


def test_home_shows_the_three_dearest_rewards_the_member_can_get_now(shop):
    merchant, *_ = shop
    for value in ("10", "15", "20", "25", "50"):
        card(merchant, name=f"Card of {value}", denominations=[value])
    page = signed_in(shop).get(url(merchant)).content.decode()
    section = page[page.index("You can get these now") :]
    shown = re.findall(r"Card of (\d+)", section)
    assert shown == ["25", "20", "15"]  # 50 is out of reach, 10 the fourth
    assert f'href="{url(merchant, "rewards/")}?within=1"' in section


def test_home_without_an_affordable_reward_has_no_such_section(shop):
    merchant, *_ = shop
    card(merchant, name="Dear card", denominations=["50"])
    page = signed_in(shop).get(url(merchant)).content.decode()
    assert "You can get these now" not in page


def test_history_names_the_reward_and_links_to_it_in_one_query_for_the_page(
    shop, django_assert_max_num_queries
):
    merchant, _store, _secret, member = shop
    offer = sandbox_offer(merchant)
    client = signed_in(shop)
    first = redemption_delivered(merchant, member, offer)
    history = url(merchant, "history/")
    client.get(history)  # warm: the session, the program
    with django_assert_max_num_queries(50) as one:
        page = client.get(history).content.decode()
    name = first.reward.name
    assert f"Spent on {name}" in page
    assert f'href="{url(merchant, f"my-rewards/{first.public_id}/")}"' in page
    ledger.points_adjust(
        member=member,
        points=5000,
        reason="goodwill",
        at=timezone.now(),
        expires_at=None,
        actor=SYSTEM,
    )
    redemption_delivered(merchant, member, offer)
    redemption_delivered(merchant, member, offer)
    with django_assert_max_num_queries(len(one.captured_queries)):
        page = client.get(history).content.decode()
    assert page.count(f"Spent on {name}") == 3


@pytest.mark.parametrize(
    ("kind", "points", "reward", "said"),
    [
        ("redeem", -2500, "Aurora gift card", "Spent on Aurora gift card"),
        ("redeem", -2500, "", "Spent on a reward"),
        (
            "redemption_refund",
            2500,
            "Aurora gift card",
            "Given back: Aurora gift card could not be delivered",
        ),
        ("redemption_refund", 2500, "", "Given back: a reward could not be delivered"),
    ],
)
def test_spends_and_refunds_in_words(kind, points, reward, said):
    line = entry_words(
        LedgerEntry(kind=kind, points=points, pending=0), points_name="Beans", reward=reward
    )
    assert line.text == said
    assert line.amount == ("\u22122,500 Beans" if points < 0 else "+2,500 Beans")


@pytest.mark.parametrize(
    ("fields", "achievement", "said"),
    [
        (
            {"source_type": "achievement", "source_ref": "7"},
            "Three orders",
            "For the achievement Three orders",
        ),
        ({"source_type": "achievement", "source_ref": "7"}, "", "For an achievement"),
        (
            {"source_type": "referral", "reason": "referral 4 qualified (advocate)"},
            "",
            "For a friend you invited",
        ),
        (
            {"source_type": "referral", "reason": "referral 4 qualified (friend)"},
            "",
            "For joining with a friend's invitation",
        ),
    ],
)
def test_achievement_and_referral_points_in_words(fields, achievement, said):
    entry = LedgerEntry(kind="earn", points=150, pending=0, **fields)
    line = entry_words(entry, points_name="Beans", achievement=achievement)
    assert line.text == said


def test_a_release_of_several_orders_names_none():
    entry = LedgerEntry(kind="release", points=128, pending=-128, source_type="system")
    assert entry_words(entry, points_name="Beans").text == "Now spendable, from your orders"


def test_history_names_the_achievement_of_its_points(shop):
    merchant, _store, _secret, member = shop
    achievement = achievement_make(
        Program.objects.get(merchant=merchant), name="Three orders in 30 days"
    )
    ledger.points_earn(
        member=member,
        points=150,
        at=timezone.now(),
        available_at=timezone.now(),
        expires_at=None,
        source_type=LedgerEntry.Source.ACHIEVEMENT,
        source_ref=str(achievement.pk),
        reason="achievement completed",
        actor=SYSTEM,
    )
    page = signed_in(shop).get(url(merchant, "history/")).content.decode()
    assert "For the achievement Three orders in 30 days" in page
