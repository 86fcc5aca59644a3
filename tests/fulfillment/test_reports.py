"""The rewards report over known redemptions, with exact figures: by reward, type and
country, the value per currency, the points spent and given back, the delivery times;
one merchant's rows only, the merchant's local days, a bounded number of queries."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog.models import RewardType
from core.actors import Actor
from core.percentiles import Durations
from fulfillment.models import Redemption, RedemptionEvent, RedemptionStatus
from fulfillment.reports import Amount, rewards_report
from fulfillment.services import dispatch, interventions, reissue
from merchants.models import Merchant
from tests.catalog.factories import RewardFactory, merchant_with_program, select
from tests.core.history import backdate
from tests.fulfillment.factories import redemption_pending, sandbox_offer
from tests.loyalty.factories import member_make

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
STAFF = Actor.system("test")
MARCH_1, MARCH_31 = datetime.date(2024, 3, 1), datetime.date(2024, 3, 31)


def at(day: int, hour: int = 10) -> datetime.datetime:
    return datetime.datetime(2024, 3, day, hour, tzinfo=UTC)


def made_at(redemption: Redemption, when: datetime.datetime, *, delivered_after=None) -> None:
    Redemption.objects.filter(pk=redemption.pk).update(created_at=when)
    if delivered_after is not None:
        backdate(
            RedemptionEvent.objects.filter(
                redemption=redemption, field="status", to_value=RedemptionStatus.DELIVERED
            ),
            at=when + delivered_after,
        )
        Redemption.objects.filter(pk=redemption.pk).update(delivered_at=when + delivered_after)


def hours(value: float) -> datetime.timedelta:
    return datetime.timedelta(hours=value)


@pytest.fixture
def known():
    """Merchant A (USD program): four redemptions in March of one member, three
    delivered (after 1, 2 and 10 hours) and one cancelled; one of them a coffee voucher,
    one of two units sent to France for a EUR reward priced at 1.1 USD a euro, one for a GBP reward
    without a rate. A reissue of the second (care's, not the member's) made in March too.
    Merchant B: one delivered redemption in March."""
    shop, _ = merchant_with_program()
    member = member_make(shop, points=100_000)
    offer = sandbox_offer(shop)
    r1, r2, r3 = (redemption_pending(shop, member, offer) for _ in range(3))
    dispatch.process_due(now=timezone.now())
    r4 = redemption_pending(shop, member, offer)
    interventions.redemption_cancel(redemption=r4, reason="asked by the member", actor=STAFF)
    for redemption in (r1, r2, r3, r4):
        redemption.refresh_from_db()
    assert [r.status for r in (r1, r2, r3)] == [RedemptionStatus.DELIVERED] * 3
    assert r4.status == RedemptionStatus.CANCELLED
    again = reissue.redemption_reissue(redemption=r2, reason="dead code", actor=STAFF)

    voucher = RewardFactory(name="Coffee voucher", type=RewardType.VOUCHER)
    Redemption.objects.filter(pk=r1.pk).update(reward=voucher)
    Redemption.objects.filter(pk=r2.pk).update(face_currency="GBP", rate_used=None)
    Redemption.objects.filter(pk=r3.pk).update(
        country="FR", face_currency="EUR", rate_used=Decimal("1.1"), quantity=2
    )
    made_at(r1, at(3), delivered_after=hours(1))
    made_at(r2, at(4), delivered_after=hours(2))
    made_at(r3, at(5), delivered_after=hours(10))
    made_at(r4, at(6))
    made_at(again, at(7))

    other, _ = merchant_with_program()
    stranger = member_make(other, points=100_000)
    select(other, offer.reward, price_step=1)
    theirs = redemption_pending(other, stranger, offer)
    dispatch.process_due(now=timezone.now())
    made_at(theirs, at(8), delivered_after=hours(100))
    return {"a": shop, "b": other, "offer": offer, "points": r1.points_total, "voucher": voucher}


def test_rewards_report_figures(known, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        report = rewards_report(merchant=known["a"], start=MARCH_1, end=MARCH_31)
    each = known["points"]
    assert (report.redemptions, report.quantity, report.points_spent) == (4, 5, 4 * each)
    assert (report.refunded, report.points_refunded, report.points_kept) == (1, each, 3 * each)
    # 25 + 55 (2 x 25 EUR at 1.1) + 25 in the program's USD; 25 GBP with no rate to USD.
    assert report.value == (Amount(Decimal("25.00"), "GBP"), Amount(Decimal("105.00"), "USD"))
    # Delivered after 1, 2 and 10 hours: the median 2 h, the p90 2 + 0.8 x 8 h.
    assert report.fulfillment_time == Durations(
        3, hours(2), datetime.timedelta(hours=8, minutes=24)
    )


def test_rewards_report_breakdowns(known):
    report = rewards_report(merchant=known["a"], start=MARCH_1, end=MARCH_31)
    reward = known["offer"].reward
    assert [(r.key, r.label, r.redemptions, r.points) for r in report.by_reward] == [
        (str(reward.pk), reward.name, 3, 3 * known["points"]),
        (str(known["voucher"].pk), "Coffee voucher", 1, known["points"]),
    ]
    assert report.by_reward[0].value == (
        Amount(Decimal("25.00"), "GBP"),
        Amount(Decimal("80.00"), "USD"),
    )
    assert [(r.key, r.label, r.redemptions) for r in report.by_type] == [
        ("gift_card", "Gift card", 3),
        ("voucher", "Voucher or discount code", 1),
    ]
    assert [(r.key, r.label, r.redemptions, r.value) for r in report.by_country] == [
        (
            "US",
            "United States of America",
            3,
            (Amount(Decimal("25.00"), "GBP"), Amount(Decimal("50.00"), "USD")),
        ),
        ("FR", "France", 1, (Amount(Decimal("55.00"), "USD"),)),
    ]


def test_rewards_report_never_counts_another_merchant_s_redemptions(known):
    theirs = rewards_report(merchant=known["b"], start=MARCH_1, end=MARCH_31)
    assert (theirs.redemptions, theirs.refunded) == (1, 0)
    assert theirs.fulfillment_time == Durations(1, hours(100), hours(100))
    assert [row.redemptions for row in theirs.by_reward] == [1]
    ours = rewards_report(merchant=known["a"], start=MARCH_1, end=MARCH_31)
    assert ours.fulfillment_time.count == 3


def test_rewards_report_of_an_empty_range_is_zeros(known):
    report = rewards_report(
        merchant=known["a"], start=datetime.date(2023, 1, 1), end=datetime.date(2023, 1, 31)
    )
    assert (report.redemptions, report.points_spent, report.refunded, report.points_refunded) == (
        0,
        0,
        0,
        0,
    )
    assert report.value == report.by_reward == report.by_type == report.by_country == ()
    assert report.fulfillment_time == Durations(0, None, None)


def test_rewards_report_counts_the_merchant_s_local_days():
    shop, _ = merchant_with_program()
    Merchant.objects.filter(pk=shop.pk).update(timezone="America/New_York")  # UTC-5 in March
    shop.refresh_from_db()
    member = member_make(shop, points=100_000)
    offer = sandbox_offer(shop)
    before, last, after = (redemption_pending(shop, member, offer) for _ in range(3))
    # 03:00 UTC on March 1st is still February 29th in New York.
    made_at(before, datetime.datetime(2024, 3, 1, 3, tzinfo=UTC))
    # 03:00 UTC on April 1st is March 31st, 23:00, in New York.
    made_at(last, datetime.datetime(2024, 4, 1, 3, tzinfo=UTC))
    made_at(after, datetime.datetime(2024, 4, 1, 5, tzinfo=UTC))
    march = rewards_report(merchant=shop, start=MARCH_1, end=MARCH_31)
    assert march.redemptions == 1
    leap_day = rewards_report(
        merchant=shop, start=datetime.date(2024, 2, 29), end=datetime.date(2024, 2, 29)
    )
    assert leap_day.redemptions == 1
    april = rewards_report(
        merchant=shop, start=datetime.date(2024, 4, 1), end=datetime.date(2024, 4, 1)
    )
    assert april.redemptions == 1


def test_rewards_report_refuses_a_range_that_ends_before_it_starts(known):
    with pytest.raises(ValueError, match="ends before"):
        rewards_report(merchant=known["a"], start=MARCH_31, end=MARCH_1)
