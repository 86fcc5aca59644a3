"""``GET /api/v1/members/{external_id}/achievements/`` and the ``achievements`` of an
order's answer, through the real client and a merchant's key."""

import datetime
from decimal import Decimal

import pytest

from loyalty.models import AchievementCompletion
from tests.conftest import assert_not_found, make_tenant
from tests.loyalty.achievements.helpers import achievement_make
from tests.loyalty.apihelpers import post_json
from tests.loyalty.factories import program_merchant

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"


def achievements_url(external_id: str) -> str:
    return f"/api/v1/members/{external_id}/achievements/"


def order(tenant, external_id: str, total: str = "40.00", **extra):
    body = {
        "external_id": external_id,
        "member": {"external_id": "cust-1", "email": "cust@example.com"},
        "total": total,
        "currency": "USD",
        "placed_at": datetime.datetime.now(datetime.UTC).isoformat(),
        **extra,
    }
    return post_json(tenant.client, ORDERS, body)


@pytest.fixture
def shop():
    merchant, program = program_merchant()
    tenant = make_tenant(merchant)
    tenant.three = achievement_make(program, name="Three orders", reward_points=50)
    tenant.spend = achievement_make(
        program,
        name="Spend $500 in a year",
        measure="spend",
        goal=Decimal(500),
        window="rolling",
        window_days=365,
    )
    tenant.streak = achievement_make(
        program, name="Monthly streak", window="streak", streak_unit="month", goal=Decimal(3)
    )
    return tenant


def test_an_orders_answer_lists_what_it_advanced_and_completed(shop):
    answer = order(shop, "o-1", "120.00")
    assert answer.status_code == 201, answer.content
    by_name = {item["name"]: item for item in answer.json()["achievements"]}
    assert by_name["Three orders"] == {
        "id": shop.three.pk,
        "name": "Three orders",
        "current": "1",
        "goal": "3",
        "completed": False,
        "points": 0,
    }
    assert by_name["Spend $500 in a year"]["current"] == "120"
    assert by_name["Monthly streak"]["current"] == "1"
    order(shop, "o-2")
    third = order(shop, "o-3").json()
    (completed,) = [item for item in third["achievements"] if item["completed"]]
    assert completed["id"] == shop.three.pk
    assert completed["points"] == 50


def test_a_replayed_orders_answer_reads_its_achievements_back(shop):
    body_answer = order(shop, "o-1").json()
    again = post_json(
        shop.client,
        ORDERS,
        {
            "external_id": "o-1",
            "member": {"external_id": "cust-1", "email": "cust@example.com"},
            "total": "40.00",
            "currency": "USD",
            "placed_at": body_answer["placed_at"],
        },
    )
    assert again.status_code == 200, again.content
    assert {item["id"] for item in again.json()["achievements"]} == {
        shop.three.pk,
        shop.spend.pk,
        shop.streak.pk,
    }


def test_the_member_route_shows_progress_windows_streaks_and_completions(shop):
    for n in range(3):
        order(shop, f"o-{n}", "200.00")
    answer = shop.client.get(achievements_url("cust-1"))
    assert answer.status_code == 200, answer.content
    results = {item["name"]: item for item in answer.json()["results"]}
    three = results["Three orders"]
    assert three["completed"] is True
    assert three["progress"]["current"] == "3"
    assert three["progress"]["percent"] == 100
    (done,) = three["completions"]
    assert done["points"] == 50
    assert done["period"] == "ever"
    spend = results["Spend $500 in a year"]
    assert spend["completed"] is True  # 600 of 500
    assert spend["window"] == {"kind": "rolling", "days": 365, "unit": None}
    streak = results["Monthly streak"]
    assert streak["progress"]["streak"] == 1
    assert streak["progress"]["deadline"] is not None
    assert streak["window"] == {"kind": "streak", "days": None, "unit": "month"}
    assert streak["last_streak_reset"] is None
    assert streak["badge_url"] is None
    assert AchievementCompletion.objects.count() == 2


def test_another_merchants_member_and_an_unknown_member_are_404(shop):
    order(shop, "o-1")
    other_merchant, _ = program_merchant()
    other = make_tenant(other_merchant)
    assert_not_found(other.client.get(achievements_url("cust-1")))
    assert_not_found(shop.client.get(achievements_url("nobody")))


def test_the_route_needs_a_key(shop):
    shop.client.credentials()
    assert shop.client.get(achievements_url("cust-1")).status_code == 401
