"""Each segment criterion and operator on hand-made members, in the merchant's time zone."""

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from core.actors import SYSTEM
from loyalty.ledger import points_refund_spend
from loyalty.models import Member, MemberAttribute, MemberScore, SegmentMembership, Tier
from loyalty.services.activities import ActivityInput, activity_record
from loyalty.services.members import member_anonymise
from loyalty.services.orders import LineInput, OrderInput, order_record
from tests.loyalty.factories import (
    member_make,
    next_id,
    order_post,
    points_take,
    program_merchant,
    refund_post,
)
from tests.loyalty.segments.helpers import matching, segment_make, where

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
# 2026-10-25 is the last Sunday of October: Paris goes from UTC+2 to UTC+1 at 03:00.
AFTER_DST = datetime.datetime(2026, 10, 27, 10, 0, tzinfo=PARIS)


def paris_merchant():
    merchant, program = program_merchant()
    merchant.timezone = PARIS
    merchant.save(update_fields=["timezone"])
    return merchant, program


def c(field, op, value=None, **extra):
    return {"field": field, "op": op, "value": value, **extra}


def at(day: int, hour: int = 12, minute: int = 0, month: int = 10) -> datetime.datetime:
    return datetime.datetime(2026, month, day, hour, minute, tzinfo=PARIS)


def activity(merchant, member, kind, when, custom_kind=""):
    return activity_record(
        merchant=merchant,
        data=ActivityInput(
            external_id=next_id("act"),
            member_external_id=member.external_id,
            kind=kind,
            custom_kind=custom_kind,
            occurred_at=when,
        ),
        actor=SYSTEM,
    )


# -- profile -----------------------------------------------------------------------------


def test_country_locale_consent_and_negation():
    merchant, _ = program_merchant()
    member_make(merchant, "fr", country="FR", locale="fr-CA", marketing_consent=True)
    member_make(merchant, "de", country="DE", locale="de", marketing_consent=False)
    member_make(merchant, "none")
    assert matching(merchant, where(c("country", "in", ["fr", "BE"]))) == {"fr"}
    assert matching(merchant, where(c("country", "in", ["FR"], negate=True))) == {"de", "none"}
    assert matching(merchant, where(c("locale", "in", ["de"]))) == {"de"}
    assert matching(merchant, where(c("locale", "starts_with", ["FR", "it"]))) == {"fr"}
    assert matching(merchant, where(c("marketing_consent", "is", True))) == {"fr"}
    assert matching(merchant, where(c("marketing_consent", "is", False))) == {"de", "none"}


def test_age_counts_whole_years_in_the_merchants_today():
    merchant, _ = paris_merchant()
    # 23:30 UTC on 13 March is already 14 March in Paris: the 14 March birthday counts.
    now = datetime.datetime(2026, 3, 13, 23, 30, tzinfo=datetime.UTC)
    member_make(merchant, "turns30", birthday=datetime.date(1996, 3, 14))
    member_make(merchant, "is29", birthday=datetime.date(1996, 3, 15))
    member_make(merchant, "leap", birthday=datetime.date(2008, 2, 29))
    member_make(merchant, "unknown")
    assert matching(merchant, where(c("age", "eq", 30)), now) == {"turns30"}
    assert matching(merchant, where(c("age", "gte", 30)), now) == {"turns30"}
    assert matching(merchant, where(c("age", "lte", 29)), now) == {"is29", "leap"}
    assert matching(merchant, where(c("age", "between", [18, 29])), now) == {"is29", "leap"}
    # Born on 29 February: 18 on 1 March in a year without one.
    march_1 = datetime.datetime(2026, 3, 1, 12, tzinfo=datetime.UTC)
    feb_28 = datetime.datetime(2026, 2, 28, 12, tzinfo=datetime.UTC)
    assert "leap" in matching(merchant, where(c("age", "gte", 18)), march_1)
    assert "leap" not in matching(merchant, where(c("age", "gte", 18)), feb_28)
    # No birthday: no age; the negation finds them.
    assert "unknown" in matching(merchant, where(c("age", "gte", 0, negate=True)), now)


def test_member_since_by_local_days_across_the_dst_change():
    merchant, _ = paris_merchant()
    old = member_make(merchant, "old")
    edge = member_make(merchant, "edge")
    new = member_make(merchant, "new")
    # 00:30 on 25 October in Paris is still summer time: 22:30 UTC on the 24th.
    Member.objects.filter(pk=old.pk).update(created_at=at(20))
    Member.objects.filter(pk=edge.pk).update(created_at=at(25, 0, 30))
    Member.objects.filter(pk=new.pk).update(created_at=at(27, 9))
    now = AFTER_DST
    assert matching(merchant, where(c("member_since", "before", "2026-10-25")), now) == {"old"}
    assert matching(merchant, where(c("member_since", "after", "2026-10-24")), now) == {
        "edge",
        "new",
    }
    assert matching(
        merchant, where(c("member_since", "between", ["2026-10-25", "2026-10-26"])), now
    ) == {"edge"}
    # Today (27th) and the two days before: from midnight on the 25th, Paris time.
    assert matching(merchant, where(c("member_since", "within_last_days", 3)), now) == {
        "edge",
        "new",
    }
    assert matching(merchant, where(c("member_since", "at_least_days_ago", 3)), now) == {"old"}


def test_tier_and_no_tier():
    merchant, program = program_merchant()
    program.tiers_enabled = True
    program.save()
    silver = Tier.objects.create(program=program, name="Silver", threshold=100)
    gold = Tier.objects.create(program=program, name="Gold", threshold=500)
    s = member_make(merchant, "s")
    g = member_make(merchant, "g")
    member_make(merchant, "n")
    Member.objects.filter(pk=s.pk).update(tier=silver)
    Member.objects.filter(pk=g.pk).update(tier=gold)
    assert matching(merchant, where(c("tier", "in", [gold.pk]))) == {"g"}
    assert matching(merchant, where(c("tier", "in", [gold.pk, silver.pk]))) == {"g", "s"}
    assert matching(merchant, where(c("tier", "none"))) == {"n"}


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("eq", 50, {"fifty"}),
        ("gte", 50, {"fifty", "hundred"}),
        ("lte", 50, {"zero", "fifty"}),
        ("between", [1, 99], {"fifty"}),
    ],
)
def test_points_balance_and_lifetime(op, value, expected):
    merchant, _ = program_merchant()
    member_make(merchant, "zero")
    member_make(merchant, "fifty", points=50)
    hundred = member_make(merchant, "hundred", points=150)
    points_take(hundred, 50)
    assert matching(merchant, where(c("points_balance", op, value))) == expected
    lifetime = {"zero": 0, "fifty": 50, "hundred": 150}
    assert matching(merchant, where(c("lifetime_points", op, value))) == {
        m for m, n in lifetime.items() if _holds(op, value, n)
    }


def _holds(op, value, n):
    return {
        "eq": lambda: n == value,
        "gte": lambda: n >= value,
        "lte": lambda: n <= value,
        "between": lambda: value[0] <= n <= value[1],
    }[op]()


# -- orders ------------------------------------------------------------------------------


def orders_scenario():
    """Paris merchant, now = 27 Oct 10:00 (after the DST change). ``recent`` ordered 40 and
    80 in the last 3 days (80 refunded by half); ``edge`` ordered 100 at 00:30 on the 25th
    (summer time); ``old`` 500 a month ago; ``never`` nothing."""
    merchant, _ = paris_merchant()
    recent = member_make(merchant, "recent")
    edge = member_make(merchant, "edge")
    old = member_make(merchant, "old")
    member_make(merchant, "never")
    order_post(merchant, recent, "40.00", placed_at=at(26, 9))
    big = order_post(merchant, recent, "80.00", placed_at=at(27, 8)).obj
    refund_post(merchant, big.external_id, "40.00")
    order_post(merchant, edge, "100.00", placed_at=at(25, 0, 30))
    order_post(merchant, old, "500.00", placed_at=at(27, 9, month=9))
    return merchant


def test_orders_count_in_windows_of_local_days():
    merchant = orders_scenario()
    now = AFTER_DST
    last3 = {"last_days": 3}
    assert matching(merchant, where(c("orders_count", "gte", 1, window=last3)), now) == {
        "recent",
        "edge",
    }
    assert matching(merchant, where(c("orders_count", "eq", 2, window=last3)), now) == {"recent"}
    # Zero orders in the window includes those who never ordered at all.
    assert matching(merchant, where(c("orders_count", "eq", 0, window=last3)), now) == {
        "old",
        "never",
    }
    assert matching(merchant, where(c("orders_count", "lte", 1, window=last3)), now) == {
        "edge",
        "old",
        "never",
    }
    # Today and yesterday only: the 00:30 order of the 25th is out.
    assert matching(merchant, where(c("orders_count", "gte", 1, window={"last_days": 2})), now) == {
        "recent"
    }
    dates = {"from": "2026-10-25", "to": "2026-10-25"}
    assert matching(merchant, where(c("orders_count", "gte", 1, window=dates)), now) == {"edge"}
    assert matching(merchant, where(c("orders_count", "gte", 2)), now) == {"recent"}


def test_spend_is_net_of_refunds_and_average_order_value():
    merchant = orders_scenario()
    now = AFTER_DST
    # recent: 40 + 80 - 40 refunded = 80.
    assert matching(merchant, where(c("spend", "eq", "80"))) == {"recent"}
    assert matching(merchant, where(c("spend", "gte", "100")), now) == {"edge", "old"}
    assert matching(merchant, where(c("spend", "lte", "80", window={"last_days": 3})), now) == {
        "recent",
        "old",
        "never",
    }
    assert matching(merchant, where(c("spend", "between", ["50", "100"])), now) == {
        "recent",
        "edge",
    }
    assert matching(merchant, where(c("average_order_value", "eq", "40")), now) == {"recent"}
    assert matching(merchant, where(c("average_order_value", "gte", "100")), now) == {
        "edge",
        "old",
    }
    # No orders: no average, under any bound.
    assert "never" not in matching(merchant, where(c("average_order_value", "lte", "1000")), now)


def test_days_since_last_order_by_local_days():
    merchant = orders_scenario()
    now = AFTER_DST
    assert matching(merchant, where(c("days_since_last_order", "eq", 0)), now) == {"recent"}
    assert matching(merchant, where(c("days_since_last_order", "eq", 2)), now) == {"edge"}
    assert matching(merchant, where(c("days_since_last_order", "gte", 2)), now) == {"edge", "old"}
    assert matching(merchant, where(c("days_since_last_order", "lte", 2)), now) == {
        "recent",
        "edge",
    }
    assert matching(merchant, where(c("days_since_last_order", "between", [1, 30])), now) == {
        "edge",
        "old",
    }
    assert matching(merchant, where(c("days_since_last_order", "gte", 0, negate=True)), now) == {
        "never"
    }


def test_bought_a_sku_or_a_category_in_a_window():
    merchant, _ = paris_merchant()
    tent = member_make(merchant, "tent")
    stove = member_make(merchant, "stove")
    member_make(merchant, "none")
    for member, sku, category, when in (
        (tent, "TENT-2", "camping", at(26)),
        (stove, "STOVE", "kitchen", at(1)),
    ):
        order_record(
            merchant=merchant,
            data=OrderInput(
                external_id=next_id("o"),
                member_external_id=member.external_id,
                total=Decimal("50"),
                currency="USD",
                placed_at=when,
                lines=(LineInput(sku, category, 1, Decimal("50")),),
            ),
            actor=SYSTEM,
        )
    now = AFTER_DST
    assert matching(merchant, where(c("bought", "any", ["TENT-2"])), now) == {"tent"}
    assert matching(merchant, where(c("bought", "any", [], categories=["kitchen"])), now) == {
        "stove"
    }
    assert matching(
        merchant, where(c("bought", "any", ["STOVE"], categories=["camping"])), now
    ) == {"tent", "stove"}
    assert matching(
        merchant, where(c("bought", "any", ["STOVE", "TENT-2"], window={"last_days": 7})), now
    ) == {"tent"}


# -- activities, redemptions, referrals ----------------------------------------------------


def test_activities_of_kinds_and_referrals_in_a_window():
    merchant, _ = paris_merchant()
    a = member_make(merchant, "a")
    b = member_make(merchant, "b")
    member_make(merchant, "c")
    activity(merchant, a, "review", at(26))
    activity(merchant, a, "review", at(20))
    activity(merchant, a, "custom", at(26), custom_kind="photo_upload")
    activity(merchant, b, "referral", at(26))
    activity(merchant, b, "referral", at(1))
    now = AFTER_DST
    assert matching(merchant, where(c("activities", "gte", 2, kinds=["review"])), now) == {"a"}
    assert (
        matching(
            merchant,
            where(c("activities", "gte", 2, kinds=["review"], window={"last_days": 7})),
            now,
        )
        == set()
    )
    assert matching(
        merchant,
        where(c("activities", "eq", 2, kinds=["review", "photo_upload"], window={"last_days": 7})),
        now,
    ) == {"a"}
    assert matching(merchant, where(c("activities", "eq", 0, kinds=["review"])), now) == {"b", "c"}
    assert matching(merchant, where(c("referrals", "gte", 2)), now) == {"b"}
    assert matching(merchant, where(c("referrals", "eq", 1, window={"last_days": 3})), now) == {"b"}
    assert matching(merchant, where(c("referrals", "eq", 0)), now) == {"a", "c"}


def test_redemptions_in_a_window_leave_out_the_refunded_ones():
    merchant, _ = program_merchant()
    one = member_make(merchant, "one", points=100)
    refunded = member_make(merchant, "refunded", points=100)
    member_make(merchant, "none", points=100)
    points_take(one, 10)
    spend = points_take(refunded, 10)
    points_refund_spend(spend_entry=spend, reason="failed", at=timezone.now(), actor=SYSTEM)
    assert matching(merchant, where(c("redemptions", "gte", 1, window={"last_days": 1}))) == {"one"}
    assert matching(merchant, where(c("redemptions", "eq", 0))) == {"refunded", "none"}


# -- RFM, other segments, attributes -------------------------------------------------------


def test_rfm_scores_filter_by_each_quintile():
    merchant, _ = program_merchant()
    members = [member_make(merchant, f"m{i}") for i in range(5)]
    for i, member in enumerate(members):
        MemberScore.objects.create(
            member=member,
            merchant=merchant,
            recency=i + 1,
            frequency=5 - i,
            monetary=3,
            computed_at=timezone.now(),
        )
    member_make(merchant, "unscored")
    assert matching(merchant, where(c("rfm_recency", "gte", 4))) == {"m3", "m4"}
    assert matching(merchant, where(c("rfm_frequency", "eq", 5))) == {"m0"}
    assert matching(merchant, where(c("rfm_monetary", "between", [3, 3]))) == {
        f"m{i}" for i in range(5)
    }
    assert "unscored" in matching(merchant, where(c("rfm_monetary", "gte", 1, negate=True)))


def test_member_of_another_segment_reads_current_stays_only():
    merchant, _ = program_merchant()
    a = member_make(merchant, "a")
    b = member_make(merchant, "b")
    member_make(merchant, "c")
    other = segment_make(merchant, where(), name="Other")
    now = timezone.now()
    SegmentMembership.objects.create(segment=other, member=a, joined_at=now)
    SegmentMembership.objects.create(
        segment=other, member=b, joined_at=now, left_at=now + datetime.timedelta(seconds=1)
    )
    assert matching(merchant, where(c("segment", "in", [other.pk]))) == {"a"}
    assert matching(merchant, where(c("segment", "in", [other.pk], negate=True))) == {"b", "c"}


@pytest.fixture
def crm(db):
    merchant, _ = paris_merchant()
    for name, kind, choices in (
        ("favourite_store", "text", []),
        ("shoe_size", "number", []),
        ("wedding_day", "date", []),
        ("vip", "boolean", []),
        ("segment_code", "choice", ["A", "B", "C"]),
    ):
        MemberAttribute.objects.create(
            merchant=merchant, name=name, label=name, type=kind, choices=choices
        )
    member_make(
        merchant,
        "ann",
        attributes={
            "favourite_store": "Lyon Part-Dieu",
            "shoe_size": 38,
            "wedding_day": "2026-10-26",
            "vip": True,
            "segment_code": "A",
        },
    )
    member_make(
        merchant,
        "bob",
        attributes={
            "favourite_store": "Paris Opéra",
            "shoe_size": 44.5,
            "wedding_day": "2025-06-01",
            "vip": False,
            "segment_code": "B",
        },
    )
    member_make(merchant, "cy")
    # A value stored before the schema named the key, of another type: never a match.
    Member.objects.filter(external_id="cy").update(
        attributes={"shoe_size": "forty", "wedding_day": 12}
    )
    return merchant


def attr(name, op, value):
    return {"field": "attribute", "attribute": name, "op": op, "value": value}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (attr("favourite_store", "eq", "Paris Opéra"), {"bob"}),
        (attr("favourite_store", "contains", "part-dieu"), {"ann"}),
        (attr("favourite_store", "starts_with", "paris"), {"bob"}),
        (attr("favourite_store", "is_set", True), {"ann", "bob"}),
        (attr("favourite_store", "is_set", False), {"cy"}),
        (attr("shoe_size", "eq", 38), {"ann"}),
        (attr("shoe_size", "gte", "40"), {"bob"}),
        (attr("shoe_size", "lte", 44.5), {"ann", "bob"}),
        (attr("shoe_size", "between", [30, 40]), {"ann"}),
        (attr("wedding_day", "before", "2026-01-01"), {"bob"}),
        (attr("wedding_day", "after", "2026-10-25"), {"ann"}),
        (attr("wedding_day", "between", ["2025-01-01", "2025-12-31"]), {"bob"}),
        (attr("wedding_day", "within_last_days", 2), {"ann"}),
        (attr("wedding_day", "at_least_days_ago", 2), {"bob"}),
        (attr("vip", "is", True), {"ann"}),
        (attr("vip", "is", False), {"bob"}),
        (attr("segment_code", "in", ["B", "C"]), {"bob"}),
    ],
)
def test_crm_attributes_by_type(crm, condition, expected):
    assert matching(crm, where(condition), AFTER_DST) == expected


def test_negated_attribute_condition_includes_members_without_it(crm):
    assert matching(crm, where({**attr("vip", "is", True), "negate": True}), AFTER_DST) == {
        "bob",
        "cy",
    }


# -- logic -------------------------------------------------------------------------------


def test_groups_are_anded_and_conditions_in_a_group_ored():
    merchant, _ = program_merchant()
    member_make(merchant, "fr_yes", country="FR", marketing_consent=True)
    member_make(merchant, "de_yes", country="DE", marketing_consent=True)
    member_make(merchant, "be_yes", country="BE", marketing_consent=True)
    member_make(merchant, "fr_no", country="FR", marketing_consent=False)
    either = [c("country", "in", ["FR"]), c("country", "in", ["DE"])]
    consent = c("marketing_consent", "is", True)
    assert matching(merchant, where(either, consent)) == {"fr_yes", "de_yes"}
    assert matching(merchant, where(either)) == {"fr_yes", "de_yes", "fr_no"}
    not_fr = c("country", "in", ["FR"], negate=True)
    assert matching(merchant, where(not_fr, consent)) == {"de_yes", "be_yes"}
    assert matching(merchant, where()) == {"fr_yes", "de_yes", "be_yes", "fr_no"}


def test_only_the_merchants_active_members_match():
    merchant, _ = program_merchant()
    other, _ = program_merchant()
    member_make(merchant, "mine", country="FR")
    member_make(other, "theirs", country="FR")
    gone = member_make(merchant, "gone", country="FR")
    member_anonymise(merchant=merchant, member=gone)
    blocked = member_make(merchant, "blocked", country="FR")
    Member.objects.filter(pk=blocked.pk).update(status="blocked")
    assert matching(merchant, where(c("marketing_consent", "is", False))) == {"mine"}


def test_a_definition_is_one_query(django_assert_num_queries):
    merchant = orders_scenario()
    from loyalty.segments import services as segments

    definition = segments.definition_parse(
        merchant=merchant,
        data=where(
            [c("spend", "gte", "100", window={"last_days": 365}), c("orders_count", "gte", 3)],
            c("days_since_last_order", "lte", 30),
            c("country", "in", ["FR"], negate=True),
            c("redemptions", "eq", 0),
            [c("activities", "gte", 1, kinds=["review"]), c("referrals", "eq", 0)],
            c("rfm_monetary", "gte", 1, negate=True),
        ),
    )
    members = segments.definition_members(
        merchant=merchant, definition=definition, now=AFTER_DST, attribute_types={}
    )
    with django_assert_num_queries(1):
        found = set(members.values_list("external_id", flat=True))
    assert found == {"edge", "old"}
