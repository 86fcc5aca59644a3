"""GET /widget/v1/{store}/member.json: a signed-in customer's summary for the widget, read
with the store's token, by the store's own origin only, never cached."""

import datetime
import json
from decimal import Decimal

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from catalog.models import MerchantCatalogItem
from loyalty.models import MemberStatus, Tier
from merchants.services.stores import store_set_webhook_secret
from tests.catalog.factories import RewardFactory, offered, select
from tests.conftest import assert_problem
from tests.integrations.helpers import SYSTEM, connected_store
from tests.integrations.widget.conftest import readme_token_maker
from tests.loyalty.factories import member_make, order_post, program_merchant

make_token = readme_token_maker()


def member_get(store, token=None, *, origin=None, client=None, **params):
    query = {**params}
    if token is not None:
        query["token"] = token
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    return (client or Client()).get(f"/widget/v1/{store.public_id}/member.json", query, **headers)


def token_for(store, secret, external_id):
    return make_token(secret, str(store.public_id), external_id)


@pytest.fixture
def tiered(merchant):
    """The merchant's program with tiers on points: Silver at 100, Gold at 2,000."""
    program = merchant.programs.get(is_active=True)
    program.tiers_enabled = True
    program.save(update_fields=["tiers_enabled"])
    silver = Tier.objects.create(program=program, name="Silver", threshold=100)
    gold = Tier.objects.create(program=program, name="Gold", threshold=2000, multiplier=2)
    return silver, gold


@pytest.fixture
def rewards(merchant):
    """Gift cards priced at a point a cent: 500, 1,000 (10/25/50 USD: from 1,000), 1,500,
    3,000 and 9,000 points."""
    cards = {
        name: offered(RewardFactory(slug=name, name=name.title(), denominations=values))
        for name, values in (
            ("five", ["5"]),
            ("ten", ["10", "25", "50"]),
            ("fifteen", ["15"]),
            ("thirty", ["30"]),
            ("ninety", ["90"]),
        )
    }
    select(merchant, *cards.values(), price_step=1)
    return cards


def test_a_member_sees_points_pending_tier_progress_and_rewards_they_can_afford(
    merchant, shop, tiered, rewards
):
    store, secret = shop
    member = member_make(merchant, "cust-42", first_name="Ada", locale="en-GB")
    order_post(merchant, member, "1240.00")
    program = merchant.programs.get(is_active=True)
    program.pending_days = 30
    program.save(update_fields=["pending_days"])
    order_post(merchant, member, "60.00")
    response = member_get(store, token_for(store, secret, "cust-42"))
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "private, no-store"
    body = response.json()
    assert body["state"] == "member"
    assert body["member"] == {
        "first_name": "Ada",
        "locale": "en-GB",
        "points": 1240,
        "pending_points": 60,
    }
    assert body["tier"] == {"name": "Silver"}
    assert body["at_top_tier"] is False
    # 1,300 points earned in the window (pending ones count): 700 more to Gold.
    assert body["next_tier"] == {
        "name": "Gold",
        "basis": "points",
        "remaining": "700",
        "currency": "USD",
        "percent": 65,
    }
    # The dearest affordable first, at most three; the rest are counted.
    assert [(r["name"], r["points"], r["from"]) for r in body["rewards"]] == [
        ("Ten", 1000, True),
        ("Five", 500, False),
    ]
    assert body["rewards_affordable"] == 2
    assert body["next_reward"] is None
    assert body["portal"] == f"http://testserver/m/{merchant.slug}/"


def test_three_rewards_at_most_with_the_others_counted(merchant, shop, rewards):
    store, secret = shop
    member_make(merchant, "rich", points=10_000)
    body = member_get(store, token_for(store, secret, "rich")).json()
    assert [r["name"] for r in body["rewards"]] == ["Ninety", "Thirty", "Fifteen"]
    assert body["rewards_affordable"] == 5
    # Tiers are off in this program: neither a tier nor progress.
    assert (body["tier"], body["next_tier"], body["at_top_tier"]) == (None, None, False)


def test_a_member_who_can_afford_nothing_sees_the_cheapest_reward_and_what_is_missing(
    merchant, shop, rewards
):
    store, secret = shop
    member_make(merchant, "new", points=120)
    body = member_get(store, token_for(store, secret, "new")).json()
    assert body["rewards"] == []
    assert body["rewards_affordable"] == 0
    assert (body["next_reward"]["name"], body["next_reward"]["remaining"]) == ("Five", 380)


def test_progress_on_spend_is_money_and_the_top_tier_says_so(merchant, shop):
    store, secret = shop
    program = merchant.programs.get(is_active=True)
    program.tiers_enabled = True
    program.tier_basis = "spend"
    program.save(update_fields=["tiers_enabled", "tier_basis"])
    Tier.objects.create(program=program, name="Bronze", threshold=Decimal("50"))
    Tier.objects.create(program=program, name="Gold", threshold=Decimal("500"))
    member = member_make(merchant, "spender")
    order_post(merchant, member, "120.50")
    body = member_get(store, token_for(store, secret, "spender")).json()
    assert body["tier"] == {"name": "Bronze"}
    assert body["next_tier"] == {
        "name": "Gold",
        "basis": "spend",
        "remaining": "379.5",
        "currency": "USD",
        "percent": 24,
    }
    order_post(merchant, member, "400")
    body = member_get(store, token_for(store, secret, "spender")).json()
    assert (body["tier"], body["next_tier"], body["at_top_tier"]) == ({"name": "Gold"}, None, True)


def test_a_customer_we_do_not_know_is_invited_to_join(merchant, shop):
    store, secret = shop
    response = member_get(store, token_for(store, secret, "never-seen"))
    assert response.status_code == 200
    assert response.json() == {"state": "join", "portal": f"http://testserver/m/{merchant.slug}/"}


def test_a_blocked_member_is_on_hold_and_an_anonymised_one_is_unknown(merchant, shop):
    store, secret = shop
    blocked = member_make(merchant, "blocked", points=50)
    blocked.status = MemberStatus.BLOCKED
    blocked.save(update_fields=["status"])
    body = member_get(store, token_for(store, secret, "blocked")).json()
    assert body["state"] == "on_hold"
    assert "member" not in body
    gone = member_make(merchant, "gone", points=50)
    gone.status = MemberStatus.ANONYMISED
    gone.save(update_fields=["status"])
    assert member_get(store, token_for(store, secret, "gone")).json()["state"] == "join"


# -- refused tokens -------------------------------------------------------------------------


def test_refused_tokens_are_401_with_a_code_and_never_cached(merchant, shop):
    store, secret = shop
    member_make(merchant, "cust-42", points=10)
    valid = token_for(store, secret, "cust-42")
    _, expires, signature = valid.split(":")
    cases = {
        "token_missing": None,
        "token_invalid": f"cust-43:{expires}:{signature}",
    }
    for code, token in cases.items():
        response = member_get(store, token)
        body = assert_problem(response, 401, code)
        assert response["Cache-Control"] == "private, no-store"
        assert "points" not in json.dumps(body)
    assert_problem(member_get(store, ""), 401, "token_missing")
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=7)):
        assert_problem(member_get(store, valid), 401, "token_expired")
    with time_machine.travel(timezone.now() - datetime.timedelta(minutes=15)):
        assert_problem(member_get(store, valid), 401, "token_expiry_too_far")


def test_the_previous_secret_works_for_an_hour_after_a_rotation(merchant, shop):
    store, old = shop
    member_make(merchant, "cust-42", points=10)
    new = store_set_webhook_secret(store=store, actor=SYSTEM)
    store.refresh_from_db()
    assert member_get(store, token_for(store, old, "cust-42")).json()["state"] == "member"
    assert member_get(store, token_for(store, new, "cust-42")).json()["state"] == "member"
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=61)):
        assert_problem(member_get(store, token_for(store, old, "cust-42")), 401, "token_invalid")
        assert member_get(store, token_for(store, new, "cust-42")).json()["state"] == "member"


# -- tenancy --------------------------------------------------------------------------------


def test_a_token_reads_only_a_member_of_its_stores_merchant(merchant, shop):
    store, secret = shop
    other, _ = program_merchant()
    other_store, other_secret = connected_store(other, "woocommerce")
    # The same external id at two merchants: each store sees its own member.
    member_make(merchant, "cust-42", first_name="Ours", points=10)
    member_make(other, "cust-42", first_name="Theirs", points=999)
    member_make(other, "only-theirs", points=999)
    ours = member_get(store, token_for(store, secret, "cust-42")).json()
    assert (ours["member"]["first_name"], ours["member"]["points"]) == ("Ours", 10)
    theirs = member_get(other_store, token_for(other_store, other_secret, "cust-42")).json()
    assert (theirs["member"]["first_name"], theirs["member"]["points"]) == ("Theirs", 999)
    # Their member is nobody at our store: invited to join, nothing of theirs shown.
    assert member_get(store, token_for(store, secret, "only-theirs")).json()["state"] == "join"
    # A token signed for their store (with their secret) does not open ours, nor the
    # reverse; nor does our secret sign for their store.
    theirs_token = token_for(other_store, other_secret, "only-theirs")
    assert_problem(member_get(store, theirs_token), 401, "token_invalid")
    ours_for_theirs = make_token(secret, str(other_store.public_id), "only-theirs")
    assert_problem(member_get(other_store, ours_for_theirs), 401, "token_invalid")


def test_rewards_are_the_stores_merchants_selection_only(merchant, shop):
    store, secret = shop
    other, _ = program_merchant()
    theirs = offered(RewardFactory(slug="theirs", name="Theirs"))
    select(other, theirs, price_step=1)
    ours = offered(RewardFactory(slug="ours", name="Ours", denominations=["5"]))
    select(merchant, ours, price_step=1)
    member_make(merchant, "cust-42", points=100_000)
    body = member_get(store, token_for(store, secret, "cust-42")).json()
    assert [reward["name"] for reward in body["rewards"]] == ["Ours"]
    assert MerchantCatalogItem.objects.filter(merchant=other).count() == 1


def test_an_unknown_inactive_or_closed_store_is_a_404(merchant, shop):
    store, secret = shop
    member_make(merchant, "cust-42")
    token = token_for(store, secret, "cust-42")
    for path in (
        "/widget/v1/00000000-0000-0000-0000-000000000000/member.json",
        "/widget/v1/not-a-uuid/member.json",
    ):
        response = Client().get(path, {"token": token})
        assert_problem(response, 404, "not_found")
        assert "Access-Control-Allow-Origin" not in response
    store.is_active = False
    store.save(update_fields=["is_active"])
    assert_problem(member_get(store, token), 404, "not_found")


# -- CORS -----------------------------------------------------------------------------------


def test_only_the_stores_own_https_origin_may_read_the_answer(merchant, shop):
    store, secret = shop
    member_make(merchant, "cust-42", points=10)
    token = token_for(store, secret, "cust-42")
    own = f"https://{store.domain}"
    response = member_get(store, token, origin=own)
    assert response["Access-Control-Allow-Origin"] == own
    assert "Origin" in response["Vary"]
    assert "Access-Control-Allow-Credentials" not in response
    for origin in (
        f"http://{store.domain}",
        f"https://evil.{store.domain}",
        f"https://{store.domain}.evil.example",
        "https://another-shop.example",
        "null",
    ):
        response = member_get(store, token, origin=origin)
        assert response.status_code == 200  # the token holder may read it, not that page
        assert "Access-Control-Allow-Origin" not in response, origin
    # Another merchant's store domain is not ours either.
    other, _ = program_merchant()
    other_store, _ = connected_store(other, "shopify")
    response = member_get(store, token, origin=f"https://{other_store.domain}")
    assert "Access-Control-Allow-Origin" not in response
    # A refused token's code is readable by the store's page, for its developer.
    response = member_get(store, "nonsense", origin=own)
    assert response["Access-Control-Allow-Origin"] == own
    assert_problem(response, 401, "token_invalid")


def test_plain_http_origins_only_where_a_setting_allows_them(merchant, shop, settings):
    store, secret = shop
    token = token_for(store, secret, "cust-42")
    settings.WIDGET_ALLOW_HTTP_ORIGINS = True
    response = member_get(store, token, origin=f"http://{store.domain}")
    assert response["Access-Control-Allow-Origin"] == f"http://{store.domain}"


def test_only_get_is_answered(merchant, shop):
    store, secret = shop
    response = Client().post(
        f"/widget/v1/{store.public_id}/member.json?token={token_for(store, secret, 'x')}"
    )
    assert response.status_code == 405


def test_the_answer_costs_a_bounded_number_of_queries(
    merchant, shop, tiered, rewards, django_assert_max_num_queries
):
    store, secret = shop
    member_make(merchant, "cust-42", points=5_000)
    token = token_for(store, secret, "cust-42")
    member_get(store, token)  # the program's configuration is cached after this
    with django_assert_max_num_queries(8):
        assert member_get(store, token).json()["state"] == "member"
