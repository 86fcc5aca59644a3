"""The store API's activity endpoint, ``POST /api/v1/activities/``, through the real client
and a merchant's Bearer key: kinds, custom kinds, ``activity_bonus`` rules and their caps."""

import datetime
from typing import Any

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from loyalty.models import (
    Activity,
    ActivityKind,
    EarningRule,
    LedgerEntry,
    Member,
    MemberStatus,
    RuleAward,
)
from tests.conftest import assert_problem, make_tenant
from tests.loyalty.apihelpers import db_state, post_json, program_for
from tests.loyalty.factories import member_make
from tests.merchants.factories import MerchantFactory

pytestmark = pytest.mark.django_db

ACTIVITIES = "/api/v1/activities/"
DAY = datetime.timedelta(days=1)

BUILT_IN_KINDS = [kind for kind in ActivityKind.values if kind != ActivityKind.CUSTOM]


def bonus_rule(program, activity_kind: str, points: int = 25, **fields) -> EarningRule:
    return EarningRule.objects.create(
        program=program,
        name=fields.pop("name", f"{activity_kind} bonus"),
        kind="activity_bonus",
        activity_kind=activity_kind,
        bonus_points=points,
        **fields,
    )


def activity_body(
    external_id: str = "act-1",
    member: Any = None,
    kind: str = "review",
    **extra: Any,
) -> dict[str, Any]:
    """An activity for ``cust-1``, sent as a member object so it may create them."""
    member = {"external_id": "cust-1"} if member is None else member
    return {"external_id": external_id, "member": member, "kind": kind, **extra}


def post_activity(tenant, **fields):
    return post_json(tenant.client, ACTIVITIES, activity_body(**fields))


def member_of(tenant, external_id: str = "cust-1") -> Member:
    return Member.objects.get(merchant=tenant.merchant, external_id=external_id)


def day_at(days_ago: int, hour: int) -> str:
    """An hour of a whole day in the past (merchants in the tests keep UTC)."""
    midnight = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - days_ago * DAY + datetime.timedelta(hours=hour)).isoformat()


# -- kinds and rules ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", BUILT_IN_KINDS)
def test_each_kind_earns_by_its_activity_bonus_rule(tenant, program, kind):
    rule = bonus_rule(program, kind, 25)
    for other in BUILT_IN_KINDS:
        if other != kind:
            bonus_rule(program, other, 1000)
    occurred_at = timezone.now() - datetime.timedelta(hours=1)

    response = post_activity(tenant, kind=kind, occurred_at=occurred_at.isoformat())

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["external_id"], body["member"], body["kind"]) == ("act-1", "cust-1", kind)
    assert parse_datetime(body["occurred_at"]) == occurred_at
    assert body["points_earned"] == 25
    assert body["rules"] == [
        {"rule_id": rule.pk, "campaign_id": None, "label": rule.name, "points": "25"}
    ]
    member = member_of(tenant)
    assert (member.points_balance, member.pending_points) == (25, 0)  # never pending
    entry = LedgerEntry.objects.get(member=member)
    assert (entry.source_type, entry.source_ref) == ("activity", "act-1")


def test_activity_adds_up_every_matching_rule(tenant, program):
    first = bonus_rule(program, "review", 10, priority=1, name="Review")
    second = bonus_rule(program, "review", 5, priority=2, name="Review week")

    body = post_activity(tenant, kind="review").json()

    assert body["points_earned"] == 15
    assert [rule["rule_id"] for rule in body["rules"]] == [first.pk, second.pk]


def test_activity_without_a_matching_rule_earns_nothing(tenant, program):
    bonus_rule(program, "review", 25)
    bonus_rule(program, "birthday", 25, is_active=False)
    bonus_rule(program, "birthday", 25, valid_until=timezone.now() - DAY)

    response = post_activity(tenant, kind="birthday")

    assert response.status_code == 201, response.content
    assert (response.json()["points_earned"], response.json()["rules"]) == (0, [])
    assert Activity.objects.filter(external_id="act-1").exists()
    assert not LedgerEntry.objects.exists()


def test_purchase_rules_do_not_apply_to_activities(tenant, program):
    EarningRule.objects.create(
        program=program, name="Order bonus", kind="purchase_bonus", bonus_points=50
    )

    assert post_activity(tenant, kind="sign_up").json()["points_earned"] == 0


def test_custom_kind_earns_by_its_own_name(tenant, program):
    rule = bonus_rule(program, "survey", 40)
    bonus_rule(program, "custom", 1000)

    response = post_activity(tenant, kind="custom", custom_kind=" survey ")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["custom_kind"], body["points_earned"]) == ("custom", "survey", 40)
    assert body["rules"][0]["rule_id"] == rule.pk


@pytest.mark.parametrize("custom_kind", [None, "", "   "])
def test_custom_kind_is_required_for_a_custom_activity(tenant, program, custom_kind):
    bonus_rule(program, "survey", 40)
    before = db_state()
    extra = {} if custom_kind is None else {"custom_kind": custom_kind}

    response = post_activity(tenant, kind="custom", **extra)

    assert_problem(response, 400, "domain_error", attr="custom_kind")
    assert db_state() == before


def test_activity_creates_an_unknown_member_from_the_object_given(tenant, program):
    bonus_rule(program, "sign_up", 100)

    response = post_activity(
        tenant,
        kind="sign_up",
        member={"external_id": "new-1", "email": "new@example.com", "country": "DE"},
        data={"source": "newsletter"},
    )

    assert response.status_code == 201, response.content
    member = member_of(tenant, "new-1")
    assert (member.email, member.country.code, member.points_balance) == (
        "new@example.com",
        "DE",
        100,
    )
    assert Activity.objects.get(external_id="act-1").data == {"source": "newsletter"}


def test_activity_creates_an_unknown_member_from_an_object_with_only_its_external_id(
    tenant, program
):
    bonus_rule(program, "review", 25)

    response = post_activity(tenant, member={"external_id": "new-2"})

    assert response.status_code == 201, response.content
    assert member_of(tenant, "new-2").points_balance == 25


def test_activity_for_an_unknown_member_named_by_external_id_is_404_and_changes_nothing(
    tenant, program
):
    bonus_rule(program, "review", 25)
    before = db_state()

    response = post_activity(tenant, member="ghost")

    assert_problem(response, 404, "not_found", attr="member")
    assert db_state() == before


def test_activity_for_a_known_member_named_by_external_id_earns(tenant, program):
    bonus_rule(program, "review", 25)
    member_make(tenant.merchant, "cust-1")

    response = post_activity(tenant, member="cust-1")

    assert response.status_code == 201, response.content
    assert member_of(tenant).points_balance == 25


def test_an_activity_sent_with_a_member_object_replays_when_sent_with_the_bare_id(tenant, program):
    bonus_rule(program, "review", 25)
    first = post_activity(tenant, member={"external_id": "cust-1"})

    again = post_activity(tenant, member="cust-1")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again["Idempotent-Replayed"] == "true"
    assert member_of(tenant).points_balance == 25


def test_another_merchants_member_named_by_external_id_is_404(tenant_pair):
    program_for(tenant_pair.a.merchant)
    program_for(tenant_pair.b.merchant)
    member_make(tenant_pair.a.merchant, "cust-1")

    response = post_activity(tenant_pair.b, member="cust-1")

    assert_problem(response, 404, "not_found", attr="member")
    assert not Member.objects.filter(merchant=tenant_pair.b.merchant).exists()


def test_activity_without_an_active_program_is_409_and_changes_nothing(tenant):
    before = db_state()

    response = post_activity(tenant)

    assert_problem(response, 409, "no_active_program")
    assert db_state() == before


def test_activity_of_a_blocked_member_is_409_and_changes_nothing(tenant, program):
    bonus_rule(program, "review", 25)
    member_make(tenant.merchant, "cust-1")
    Member.objects.filter(merchant=tenant.merchant).update(status=MemberStatus.BLOCKED)
    before = db_state()

    response = post_activity(tenant)

    assert_problem(response, 409, "member_not_active", attr="member")
    assert db_state() == before


# -- caps --------------------------------------------------------------------------------


def test_a_daily_cap_stops_the_second_award_of_the_day(tenant, program):
    bonus_rule(program, "review", 25, cap_period="day", cap_count=1)

    first = post_activity(tenant, external_id="a-1", occurred_at=day_at(3, 9)).json()
    second = post_activity(tenant, external_id="a-2", occurred_at=day_at(3, 18)).json()
    next_day = post_activity(tenant, external_id="a-3", occurred_at=day_at(2, 9)).json()

    assert [first["points_earned"], second["points_earned"], next_day["points_earned"]] == [
        25,
        0,
        25,
    ]
    assert second["rules"] == []
    assert member_of(tenant).points_balance == 50
    assert LedgerEntry.objects.count() == 2
    assert RuleAward.objects.count() == 2


def test_a_daily_cap_counts_up_to_its_count(tenant, program):
    bonus_rule(program, "social_follow", 10, cap_period="day", cap_count=2)

    earned = [
        post_activity(
            tenant, external_id=f"f-{n}", kind="social_follow", occurred_at=day_at(1, 8 + n)
        ).json()["points_earned"]
        for n in range(3)
    ]

    assert earned == [10, 10, 0]


def test_a_cap_counts_each_member_on_their_own(tenant, program):
    bonus_rule(program, "review", 25, cap_period="day", cap_count=1)

    first = post_activity(
        tenant, external_id="a-1", member={"external_id": "m-1"}, occurred_at=day_at(1, 9)
    )
    other = post_activity(
        tenant, external_id="a-2", member={"external_id": "m-2"}, occurred_at=day_at(1, 10)
    )

    assert (first.json()["points_earned"], other.json()["points_earned"]) == (25, 25)


def test_an_ever_cap_never_resets(tenant, program):
    bonus_rule(program, "sign_up", 100, cap_period="ever", cap_count=1)

    first = post_activity(tenant, external_id="s-1", kind="sign_up", occurred_at=day_at(30, 9))
    later = post_activity(tenant, external_id="s-2", kind="sign_up", occurred_at=day_at(1, 9))

    assert (first.json()["points_earned"], later.json()["points_earned"]) == (100, 0)


def test_a_daily_cap_counts_only_the_awards_of_that_day(tenant, program):
    bonus_rule(program, "review", 25, cap_period="day", cap_count=1)
    post_activity(tenant, external_id="a-today", occurred_at=day_at(1, 9))

    late = post_activity(tenant, external_id="a-earlier", occurred_at=day_at(3, 9))

    assert late.json()["points_earned"] == 25


def test_activity_in_year_one_is_never_a_server_error():
    tenant = make_tenant(MerchantFactory(live=True, timezone_name="America/New_York"))
    bonus_rule(program_for(tenant.merchant), "review", 25, cap_period="day")

    response = post_activity(tenant, occurred_at="0001-01-01T00:00:00Z")

    assert response.status_code in (201, 400, 422), response.content


# -- idempotency by external_id ----------------------------------------------------------


def test_same_activity_again_is_replayed_and_earns_nothing_more(tenant, program):
    bonus_rule(program, "review", 25)
    body = activity_body(occurred_at=day_at(1, 9), data={"stars": 5})
    first = post_json(tenant.client, ACTIVITIES, body)

    again = post_json(tenant.client, ACTIVITIES, body)

    assert first.status_code == 201
    assert again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Activity.objects.count() == 1
    assert member_of(tenant).points_balance == 25


def test_same_activity_external_id_with_another_body_is_409(tenant, program):
    bonus_rule(program, "review", 25)
    body = activity_body(occurred_at=day_at(1, 9))
    post_json(tenant.client, ACTIVITIES, body)
    before = db_state()

    response = post_json(tenant.client, ACTIVITIES, {**body, "kind": "birthday"})

    assert_problem(response, 409, "idempotency_conflict", attr="external_id")
    assert db_state() == before


def test_same_activity_without_occurred_at_again_is_replayed(tenant, program):
    bonus_rule(program, "review", 25)
    body = activity_body()
    post_json(tenant.client, ACTIVITIES, body)

    again = post_json(tenant.client, ACTIVITIES, body)

    assert again.status_code == 200, again.content
    assert member_of(tenant).points_balance == 25


# -- bad input ---------------------------------------------------------------------------

MISSING = object()

ACTIVITY_BAD_BODIES = [
    *(
        pytest.param(field, MISSING, "invalid_input", field, id=f"{field}-missing")
        for field in ("external_id", "member", "kind")
    ),
    pytest.param("external_id", "a b", "invalid_input", "external_id", id="id-space"),
    pytest.param("external_id", "x" * 200, "invalid_input", "external_id", id="id-200"),
    pytest.param("external_id", {"id": 1}, "invalid_input", "external_id", id="id-object"),
    pytest.param("external_id", True, "invalid_input", "external_id", id="id-bool"),
    pytest.param("member", "", "invalid_input", "member.external_id", id="member-blank"),
    pytest.param("member", 7, "invalid_input", "member", id="member-number"),
    pytest.param("member", None, "invalid_input", "member", id="member-null"),
    pytest.param("kind", "dance", "invalid_input", "kind", id="kind-unknown"),
    pytest.param("kind", "REVIEW", "invalid_input", "kind", id="kind-uppercase"),
    pytest.param("kind", None, "invalid_input", "kind", id="kind-null"),
    pytest.param("kind", ["review"], "invalid_input", "kind", id="kind-list"),
    pytest.param("custom_kind", "x" * 61, "invalid_input", "custom_kind", id="custom-long"),
    pytest.param("custom_kind", "a\u0000", "invalid_input", "custom_kind", id="custom-nul"),
    pytest.param("occurred_at", "last week", "invalid_input", "occurred_at", id="when-text"),
    pytest.param("occurred_at", "+30d", "domain_error", "occurred_at", id="when-next-month"),
    pytest.param(
        "occurred_at", "9999-12-31T23:59:59Z", "domain_error", "occurred_at", id="when-9999"
    ),
    pytest.param(
        "occurred_at", "9999-12-31T23:59:59-05:00", "invalid_input", "occurred_at", id="when-10k"
    ),
    pytest.param("data", ["a"], "invalid_input", "data", id="data-list"),
    pytest.param("data", "text", "invalid_input", "data", id="data-text"),
]


@pytest.mark.parametrize(("field", "value", "code", "attr"), ACTIVITY_BAD_BODIES)
def test_bad_activity_bodies_get_a_field_error_and_change_nothing(
    tenant, program, field, value, code, attr
):
    bonus_rule(program, "review", 25)
    post_activity(tenant, external_id="existing", member="cust-1")
    before = db_state()
    body = activity_body(external_id="act-2")
    if value is MISSING:
        del body[field]
    elif value == "+30d":
        body[field] = (timezone.now() + 30 * DAY).isoformat()
    else:
        body[field] = value

    response = post_json(tenant.client, ACTIVITIES, body)

    assert_problem(response, 400, code, attr=attr)
    assert db_state() == before


def test_a_nul_character_in_data_is_never_a_server_error(tenant, program):
    response = post_activity(tenant, data={"comment": "a\u0000b"})

    assert response.status_code in (201, 400), response.content


# -- tenant isolation --------------------------------------------------------------------


def test_another_merchants_members_and_rules_are_invisible(tenant_pair):
    a, b = tenant_pair.a, tenant_pair.b
    bonus_rule(program_for(a.merchant), "review", 25)
    bonus_rule(program_for(b.merchant), "review", 3)
    post_activity(a, member={"external_id": "shared", "email": "a@example.com"})

    response = post_activity(b, member={"external_id": "shared", "email": "b@example.com"})

    assert response.status_code == 201, response.content  # its own activity, not a replay
    assert response.json()["points_earned"] == 3
    member_a, member_b = member_of(a, "shared"), member_of(b, "shared")
    assert member_a.pk != member_b.pk
    assert (member_a.email, member_a.points_balance) == ("a@example.com", 25)
    assert (member_b.email, member_b.points_balance) == ("b@example.com", 3)
