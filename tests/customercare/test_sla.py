"""The SLA clock: counting minutes in a business calendar (weekends, holidays, a time zone
that changes its offset, around the clock), and a ticket's due times as the services keep
them through a pause over a weekend and a holiday and a change of priority."""

import datetime
import zoneinfo

import pytest
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from core.actors import Actor
from customercare import selectors, services, sla
from customercare.models import BusinessCalendar, Holiday, SLAPolicy, TicketPriority, TicketStatus
from tests.customercare.factories import agent_make, care_merchant, member_of, ticket_open

UTC = datetime.UTC
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
NINE_TO_FIVE = dict(
    timezone="UTC",
    weekdays=frozenset({1, 2, 3, 4, 5}),
    opens_at=datetime.time(9),
    closes_at=datetime.time(17),
)


def at(day: int, hour: int, minute: int = 0, *, month: int = 1, tz=UTC) -> datetime.datetime:
    return datetime.datetime(2025, month, day, hour, minute, tzinfo=tz)


# January 2025: the 10th is a Friday, the 13th a Monday.
OFFICE = sla.Calendar(**NINE_TO_FIVE)
OFFICE_MONDAY_OFF = sla.Calendar(**NINE_TO_FIVE, holidays=frozenset({datetime.date(2025, 1, 13)}))


def test_minutes_added_late_on_friday_carry_over_the_weekend():
    assert sla.add_minutes(at(10, 16), 120, OFFICE) == at(13, 10)


def test_a_holiday_counts_no_minutes():
    assert sla.add_minutes(at(10, 16), 120, OFFICE_MONDAY_OFF) == at(14, 10)
    assert sla.minutes_between(at(10, 16), at(14, 10), OFFICE_MONDAY_OFF) == 120
    assert sla.minutes_between(at(10, 16), at(14, 10), OFFICE) == 120 + 8 * 60


def test_counting_starts_at_the_next_opening_when_started_outside_hours():
    saturday = at(11, 12)
    assert sla.add_minutes(saturday, 30, OFFICE) == at(13, 9, 30)
    assert sla.minutes_between(saturday, at(13, 9, 30), OFFICE) == 30
    assert sla.add_minutes(at(9, 18), 30, OFFICE) == at(10, 9, 30)  # Thursday evening


def test_a_target_ending_at_closing_time_is_due_at_closing_time():
    assert sla.add_minutes(at(10, 9), 8 * 60, OFFICE) == at(10, 17)


def test_minutes_between_counts_whole_minutes_and_nothing_backwards():
    assert (
        sla.minutes_between(at(10, 10), at(10, 10, 1) + datetime.timedelta(seconds=59), OFFICE) == 1
    )
    assert sla.minutes_between(at(10, 12), at(10, 11), OFFICE) == 0
    assert sla.minutes_between(at(11, 10), at(12, 16), OFFICE) == 0  # the weekend


def test_business_hours_follow_the_local_clock_across_a_change_to_summer_time():
    # Paris moves from UTC+1 to UTC+2 on Sunday 30 March 2025.
    paris = sla.Calendar(**{**NINE_TO_FIVE, "timezone": "Europe/Paris"})
    friday = at(28, 16, month=3, tz=PARIS)
    due = sla.add_minutes(friday, 120, paris)
    assert due == at(31, 10, month=3, tz=PARIS)
    assert due.astimezone(UTC) == at(31, 8, month=3)
    assert friday.astimezone(UTC) == at(28, 15, month=3)
    assert sla.minutes_between(friday, due, paris) == 120


def test_around_the_clock_counts_every_real_minute():
    # No calendar: a weekend counts, and the night Paris loses an hour lasts 23 hours.
    assert sla.add_minutes(at(10, 16), 120, None) == at(10, 18)
    assert sla.minutes_between(at(10, 16), at(13, 10), None) == (2 * 24 + 18) * 60
    saturday_noon = at(29, 12, month=3, tz=PARIS)
    sunday_noon = at(30, 12, month=3, tz=PARIS)
    assert sla.minutes_between(saturday_noon, sunday_noon, None) == 23 * 60
    assert sla.add_minutes(saturday_noon, 23 * 60, None) == sunday_noon


def test_due_times_and_at_risk_include_the_paused_minutes():
    targets = sla.Targets(60, 8 * 60, 75, OFFICE_MONDAY_OFF)
    due = sla.due_times(at(10, 16), 30, targets)
    assert due.first_response == at(14, 9, 30)  # 60 + 30 paused: Fri 60, Tue 30
    assert due.resolution == at(14, 16, 30)
    # 75% of 60 is 45 minutes, + 30 paused: Friday's last hour and a quarter into Tuesday.
    assert sla.at_risk_from(at(10, 16), 30, 60, targets) == at(14, 9, 15)


def test_a_target_a_calendar_cannot_reach_falls_due_at_the_horizon_rather_than_loops():
    closed = sla.Calendar(**{**NINE_TO_FIVE, "weekdays": frozenset()})
    horizon = at(10, 9) + datetime.timedelta(days=sla.MAX_DAYS)
    assert sla.add_minutes(at(10, 9), 1, closed) == horizon
    assert sla.minutes_between(at(10, 9), at(20, 9), closed) == 0


@settings(max_examples=150, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime.datetime(2024, 1, 1),
        max_value=datetime.datetime(2026, 12, 31),
        timezones=st.just(UTC),
    ),
    minutes=st.integers(min_value=0, max_value=20 * 8 * 60),
    zone=st.sampled_from(["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo"]),
)
def test_minutes_between_undoes_add_minutes(start, minutes, zone):
    calendar = sla.Calendar(
        **{**NINE_TO_FIVE, "timezone": zone},
        holidays=frozenset({datetime.date(2025, 12, 25), datetime.date(2026, 1, 1)}),
    )
    due = sla.add_minutes(start, minutes, calendar)
    assert due >= start
    assert sla.minutes_between(start, due, calendar) == minutes


# -- a ticket through the services -------------------------------------------------------


class Clock:
    """Stands in for Django's clock (``django.utils.timezone.now``), which the services
    and ``auto_now`` fields read, so a ticket can live through chosen moments."""

    def __init__(self) -> None:
        self.moment: datetime.datetime | None = None

    def __call__(self) -> datetime.datetime:
        return self.moment or datetime.datetime.now(UTC)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(timezone, "now", clock)
    return clock


def paris_calendar_with_easter_monday() -> BusinessCalendar:
    calendar = BusinessCalendar.objects.create(
        name="Paris office", timezone="Europe/Paris", weekdays="12345"
    )
    Holiday.objects.create(calendar=calendar, date=datetime.date(2025, 4, 21), name="Easter Monday")
    return calendar


@pytest.mark.django_db
def test_a_ticket_paused_over_a_weekend_and_a_holiday_is_due_later_by_the_counted_pause(clock):
    merchant = care_merchant()
    calendar = paris_calendar_with_easter_monday()
    for priority, first, resolution in (("normal", 240, 960), ("high", 60, 480)):
        SLAPolicy.objects.create(
            merchant=merchant,
            priority=priority,
            first_response_minutes=first,
            resolution_minutes=resolution,
            calendar=calendar,
        )
    agent = agent_make()
    member = member_of(merchant)

    def paris(day: int, hour: int, minute: int = 0) -> datetime.datetime:
        return at(day, hour, minute, month=4, tz=PARIS)

    # Thursday 17 April, 15:00: 2 business hours left that day, Friday, then (Monday the
    # 21st being a holiday) Tuesday.
    clock.moment = paris(17, 15)
    ticket = ticket_open(member)
    assert ticket.first_response_due_at == paris(18, 11)
    assert ticket.resolution_due_at == paris(22, 15)

    # Friday 10:00 the agent answers and waits on the member: 180 minutes used.
    clock.moment = paris(18, 10)
    services.ticket_reply(
        ticket=ticket,
        body="Which order?",
        internal=False,
        actor=Actor.staff(agent),
        then=TicketStatus.PENDING_CUSTOMER,
    )
    ticket.refresh_from_db()
    assert ticket.paused_since == paris(18, 10)
    assert ticket.first_responded_at == paris(18, 10)

    # Tuesday 10:30 the member answers: Friday 10:00-17:00 and Tuesday 09:00-10:30 were
    # paused (the weekend and Easter Monday count nothing): 420 + 90 minutes.
    clock.moment = paris(22, 10, 30)
    services.ticket_member_message(ticket=ticket, body="Order 1001.", actor=Actor.member())
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN
    assert ticket.paused_since is None
    assert ticket.paused_minutes == 510
    # 780 minutes were left: Tuesday 10:30-17:00 is 390, Wednesday 09:00 + 390 is 15:30.
    assert ticket.resolution_due_at == paris(23, 15, 30)
    assert ticket.resolution_due_at.astimezone(UTC) == at(23, 13, 30, month=4)

    # Raised to high: 480 minutes + the same 510 paused, counted from the opening.
    clock.moment = paris(22, 11)
    services.ticket_set_priority(
        ticket=ticket, priority=TicketPriority.HIGH, actor=Actor.staff(agent)
    )
    ticket.refresh_from_db()
    assert ticket.paused_minutes == 510
    assert ticket.resolution_due_at == paris(22, 15, 30)
    assert ticket.first_response_due_at == paris(18, 11)  # answered: that target is history
    event = ticket.events.get(field="priority")
    assert (event.from_value, event.to_value, event.actor) == ("normal", "high", agent)

    # And back: the due times return to the normal targets.
    services.ticket_set_priority(
        ticket=ticket, priority=TicketPriority.NORMAL, actor=Actor.staff(agent)
    )
    ticket.refresh_from_db()
    assert ticket.resolution_due_at == paris(23, 15, 30)


@pytest.mark.django_db
def test_around_the_clock_a_pause_pushes_the_due_time_by_its_real_length(clock):
    merchant = care_merchant()
    SLAPolicy.objects.create(
        merchant=None, priority="normal", first_response_minutes=60, resolution_minutes=600
    )
    member = member_of(merchant)
    agent = agent_make()
    clock.moment = at(10, 16)  # a Friday
    ticket = ticket_open(member)
    assert ticket.resolution_due_at == at(11, 2)

    clock.moment = at(10, 17)
    services.ticket_move(
        ticket=ticket, to=TicketStatus.PENDING_FULFILLMENT, actor=Actor.staff(agent)
    )
    clock.moment = at(12, 17, 45)  # two days and 45 minutes later, over the weekend
    services.ticket_move(ticket=ticket, to=TicketStatus.OPEN, actor=Actor.staff(agent))
    ticket.refresh_from_db()
    assert ticket.paused_minutes == 2 * 24 * 60 + 45
    assert ticket.resolution_due_at == at(13, 2, 45)


@pytest.mark.django_db
def test_a_merchants_policy_wins_over_the_providers_default_and_both_over_the_fallback():
    merchant, other = care_merchant(), care_merchant()
    calendar = BusinessCalendar.objects.create(name="Office")
    SLAPolicy.objects.create(
        merchant=None, priority="normal", first_response_minutes=90, resolution_minutes=900
    )
    SLAPolicy.objects.create(
        merchant=merchant,
        priority="normal",
        first_response_minutes=30,
        resolution_minutes=300,
        at_risk_percent=50,
        calendar=calendar,
    )
    mine = selectors.sla_targets(merchant=merchant, priority="normal")
    assert (mine.first_response_minutes, mine.resolution_minutes, mine.at_risk_percent) == (
        30,
        300,
        50,
    )
    assert mine.calendar.opens_at == datetime.time(9)
    assert mine.calendar.weekdays == {1, 2, 3, 4, 5}
    default = selectors.sla_targets(merchant=other, priority="normal")
    assert (default.first_response_minutes, default.calendar) == (90, None)
    fallback = selectors.sla_targets(merchant=merchant, priority="urgent")
    assert (fallback.first_response_minutes, fallback.resolution_minutes) == (
        selectors.FALLBACK_TARGETS["urgent"]
    )
