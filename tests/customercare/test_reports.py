"""The care reports over known tickets, with exact figures: first-response and
resolution times (median and p90), SLA attainment, the backlog by age, CSAT and goodwill,
overall, per merchant and per agent; the percentile arithmetic on its own; and the admin
page with its range form, permission and CSV downloads."""

import csv
import datetime
import io
import uuid
from decimal import Decimal
from fractions import Fraction

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from django.utils import timezone

from core.actors import Actor
from core.percentiles import durations_summary, percentile
from customercare import goodwill, services
from customercare.models import (
    CareSettings,
    CSATResponse,
    GoodwillAdjustment,
    Ticket,
    TicketEvent,
    TicketStatus,
)
from customercare.reports import Durations, Period, care_operations_report, care_report
from loyalty.models import LedgerEntry
from merchants.models import Merchant
from tests.core.history import backdate
from tests.customercare.factories import agent_make, care_merchant, member_of, ticket_open
from tests.merchants.factories import StaffFactory

UTC = datetime.UTC
MARCH = Period.from_dates(datetime.date(2024, 3, 1), datetime.date(2024, 3, 31))
REPORTS = "admin:customercare_ticket_reports"


def minutes(value: float) -> datetime.timedelta:
    return datetime.timedelta(minutes=value)


def hours(value: float) -> datetime.timedelta:
    return datetime.timedelta(hours=value)


# -- pure arithmetic ---------------------------------------------------------------------------


def test_percentiles_interpolate_like_percentile_cont():
    values = [minutes(m) for m in (40, 10, 100, 30, 20)]
    assert percentile(values, Fraction(1, 2)) == minutes(30)
    assert percentile(values, Fraction(9, 10)) == minutes(76)  # 40 + 0.6 x 60
    assert percentile([hours(2), hours(4)], Fraction(1, 2)) == hours(3)
    assert percentile([minutes(7)], Fraction(9, 10)) == minutes(7)
    assert percentile([], Fraction(1, 2)) is None
    assert durations_summary([]) == Durations(0, None, None)
    # To the whole second, half to even, like the page shows it.
    assert percentile(
        [datetime.timedelta(seconds=1), datetime.timedelta(seconds=2)], Fraction(1, 2)
    ) == (datetime.timedelta(seconds=2))


def test_a_period_runs_from_its_first_day_to_the_day_after_its_last():
    assert MARCH.start == datetime.datetime(2024, 3, 1, tzinfo=UTC)
    assert MARCH.end == datetime.datetime(2024, 4, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="ends before"):
        Period.from_dates(datetime.date(2024, 3, 2), datetime.date(2024, 3, 1))
    with pytest.raises(ValueError, match="At most"):
        Period.from_dates(datetime.date(2023, 1, 1), datetime.date(2024, 3, 1))


# -- known tickets -----------------------------------------------------------------------------


def at(day: int, hour: int = 10) -> datetime.datetime:
    return datetime.datetime(2024, 3, day, hour, tzinfo=UTC)


def worked(
    member,
    agent,
    *,
    opened: datetime.datetime,
    responded: datetime.timedelta | None = None,
    resolved: datetime.timedelta | None = None,
) -> Ticket:
    """A ticket opened at ``opened``, answered and resolved after the given times, with
    targets of one hour (first response) and one day (resolution)."""
    ticket = ticket_open(member)
    services.ticket_assign(ticket=ticket, assignee=agent, actor=Actor.staff(agent))
    if responded is not None:
        services.ticket_reply(
            ticket=ticket, body="On it.", internal=False, actor=Actor.staff(agent)
        )
    if resolved is not None:
        services.ticket_move(ticket=ticket, to=TicketStatus.RESOLVED, actor=Actor.staff(agent))
        backdate(
            TicketEvent.objects.filter(ticket=ticket, to_value=TicketStatus.RESOLVED),
            created_at=opened + resolved,
        )
    Ticket.objects.filter(pk=ticket.pk).update(
        created_at=opened,
        first_responded_at=opened + responded if responded is not None else None,
        first_response_due_at=opened + hours(1),
        resolution_due_at=opened + hours(24),
        first_response_breached=responded is not None and responded > hours(1),
    )
    return Ticket.objects.get(pk=ticket.pk)


def rate(ticket: Ticket, score: int, when: datetime.datetime) -> None:
    services.csat_record(ticket=ticket, score=score, comment="", via="link")
    CSATResponse.objects.filter(ticket=ticket).update(created_at=when)


def give(ticket: Ticket, agent, points: int, reason: str, when: datetime.datetime | None = None):
    adjustment = goodwill.goodwill_request(
        ticket=ticket,
        points=points,
        reason=reason,
        note="sorry",
        key=uuid.uuid4(),
        actor=Actor.staff(agent),
    )
    if when is not None:
        backdate(LedgerEntry.objects.filter(pk=adjustment.ledger_entry_id), created_at=when)
    return adjustment


@pytest.fixture
def known(db):
    """Merchant A (agent X): four tickets in March, three resolved; merchant B (agent Y):
    one, answered late, resolved, then closed. Outside the figures: a February ticket, a
    merged one, and three unresolved tickets opened recently (only in the backlog)."""
    shop_a, shop_b = care_merchant(), care_merchant()
    for shop in (shop_a, shop_b):
        CareSettings.objects.create(
            merchant=shop, goodwill_approval_threshold=500, goodwill_max_per_30_days=10
        )
    Merchant.objects.filter(pk=shop_a.pk).update(name="Alpha")
    Merchant.objects.filter(pk=shop_b.pk).update(name="Beta")
    ana, bea = member_of(shop_a, 100), member_of(shop_b, 100)
    x = agent_make(available=False, username="xavier")
    y = agent_make(available=False, username="yasmin")
    senior = agent_make(available=False, username="sam")
    senior.user_permissions.add(Permission.objects.get(codename="approve_goodwill"))

    a1 = worked(ana, x, opened=at(1), responded=minutes(10), resolved=hours(2))
    a2 = worked(ana, x, opened=at(2), responded=minutes(20), resolved=hours(4))
    a3 = worked(ana, x, opened=at(3), responded=minutes(30), resolved=hours(30))
    worked(ana, x, opened=at(4), responded=minutes(40))
    b1 = worked(bea, y, opened=at(5), responded=minutes(100), resolved=hours(6))
    february = worked(
        ana, x, opened=at(1) - datetime.timedelta(days=5), responded=minutes(1), resolved=hours(1)
    )
    merged = worked(ana, x, opened=at(6), responded=minutes(500))
    services.ticket_merge(ticket=merged, into=a3, actor=Actor.staff(x))

    rate(a1, 5, at(10))
    rate(a2, 4, at(11))
    rate(b1, 2, at(12))
    rate(february, 1, at(1) - datetime.timedelta(days=1))

    give(a1, x, 100, "delivery_delay", at(10))
    give(a2, x, 50, "delivery_delay", at(11))
    give(a3, x, 200, "complaint", at(12))
    give(b1, y, 30, "other", at(13))
    services.ticket_move(ticket=b1, to=TicketStatus.CLOSED, actor=Actor.staff(y))
    give(a1, x, 70, "other", at(1) - datetime.timedelta(days=1))  # February
    pending = give(a2, x, 900, "complaint")  # waits: not granted
    assert pending.status == "pending_approval"
    rejected = give(a3, x, 800, "complaint")
    goodwill.goodwill_reject(adjustment=rejected, actor=Actor.staff(senior), note="no")

    now = timezone.now()
    for age in (hours(2), hours(30), datetime.timedelta(days=5)):
        fresh = ticket_open(ana)
        Ticket.objects.filter(pk=fresh.pk).update(created_at=now - age)
    return {"a": shop_a, "b": shop_b, "x": x, "y": y, "now": now}


def test_overall_figures(known):
    report = care_operations_report(period=MARCH, now=known["now"])
    row = report.overall
    assert row.opened == 5
    assert row.first_response == Durations(5, minutes(30), minutes(76))
    # Resolutions of 2, 4, 6 and 30 hours: the median between 4 and 6, p90 6 + 0.7 x 24.
    assert row.resolution == Durations(4, hours(5), hours(22.8))
    assert (row.first_response_sla.met, row.first_response_sla.counted) == (4, 5)
    assert row.first_response_sla.percent == Decimal("80.0")
    assert (row.resolution_sla.met, row.resolution_sla.counted) == (3, 4)
    assert row.resolution_sla.percent == Decimal("75.0")
    assert (row.csat.count, row.csat.average) == (3, Decimal("3.67"))
    assert row.goodwill_points == 380
    # The open March ticket (over 7 days old now) and the three recent ones.
    assert row.backlog == 4
    assert report.backlog_overall.bands == {"under_1d": 1, "1d_3d": 1, "3d_7d": 1, "over_7d": 1}


def test_per_merchant_and_per_agent(known):
    report = care_operations_report(period=MARCH, now=known["now"])
    alpha, beta = report.by_merchant
    assert (alpha.label, beta.label) == ("Alpha", "Beta")
    assert alpha.opened == 4
    assert alpha.first_response == Durations(4, minutes(25), minutes(37))
    assert alpha.resolution == Durations(3, hours(4), hours(24.8))
    assert (alpha.first_response_sla.percent, alpha.resolution_sla.percent) == (
        Decimal("100.0"),
        Decimal("66.7"),
    )
    assert (alpha.csat.average, alpha.goodwill_points, alpha.backlog) == (Decimal("4.50"), 350, 4)
    assert beta.first_response == Durations(1, minutes(100), minutes(100))
    assert beta.resolution == Durations(1, hours(6), hours(6))
    assert (beta.first_response_sla.percent, beta.resolution_sla.percent) == (
        Decimal("0.0"),
        Decimal("100.0"),
    )
    assert (beta.csat.average, beta.goodwill_points, beta.backlog) == (Decimal("2.00"), 30, 0)

    by_agent = {row.label: row for row in report.by_agent}
    assert set(by_agent) == {"xavier", "yasmin", "Unassigned"}
    assert by_agent["xavier"].first_response == alpha.first_response
    assert by_agent["xavier"].goodwill_points == 350
    assert by_agent["xavier"].backlog == 1
    assert by_agent["yasmin"].resolution == beta.resolution
    assert by_agent["Unassigned"].opened == 0
    assert by_agent["Unassigned"].backlog == 3
    agents = {row.label: row.bands for row in report.backlog_by_agent}
    assert agents["Unassigned"] == {"under_1d": 1, "1d_3d": 1, "3d_7d": 1, "over_7d": 0}


def test_goodwill_by_merchant_and_reason(known):
    rows = care_operations_report(period=MARCH, now=known["now"]).goodwill
    assert [(r.merchant, r.reason, r.adjustments, r.points) for r in rows] == [
        ("Alpha", "complaint", 1, 200),
        ("Alpha", "delivery_delay", 2, 150),
        ("Beta", "other", 1, 30),
    ]
    assert rows[1].reason_label == "Reward delivery delayed"
    assert GoodwillAdjustment.objects.filter(status="posted").count() == 5  # one in February


def test_one_merchant_sees_only_its_tickets(known):
    report = care_operations_report(period=MARCH, now=known["now"], merchant=known["b"])
    assert report.overall.opened == 1
    assert report.overall.first_response == Durations(1, minutes(100), minutes(100))
    assert report.overall.csat.average == Decimal("2.00")
    assert report.overall.goodwill_points == 30
    assert report.overall.backlog == 0
    assert [row.label for row in report.by_merchant] == ["Beta"]
    assert [(row.merchant, row.points) for row in report.goodwill] == [("Beta", 30)]


def test_an_empty_range_has_no_figures(known):
    report = care_operations_report(
        period=Period.from_dates(datetime.date(2023, 1, 1), datetime.date(2023, 1, 31)),
        now=known["now"],
    )
    assert report.overall.opened == 0
    assert report.overall.first_response == Durations()
    assert report.overall.first_response_sla.percent is None
    assert report.overall.csat.average is None
    assert report.goodwill == []


# -- the page ----------------------------------------------------------------------------------


def csv_rows(response) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment;")
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_the_page_shows_the_range_and_downloads_each_table(client, known):
    client.force_login(agent_make(available=False))  # the Customer care group may see reports
    url = reverse(REPORTS)
    response = client.get(url, {"start": "2024-03-01", "end": "2024-03-31"})
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="report-summary"' in page
    assert "30 min" in page  # the overall median
    assert "1 h 16 min" in page  # and p90
    assert "80.0 %" in page
    assert "3.67" in page

    summary = csv_rows(
        client.get(url, {"start": "2024-03-01", "end": "2024-03-31", "export": "summary"})
    )
    header, overall = summary[0], summary[1]
    row = dict(zip(header, overall, strict=True))
    assert row["breakdown"] == "all"
    assert (row["tickets_opened"], row["first_response_median_minutes"]) == ("5", "30.0")
    assert (row["first_response_p90_minutes"], row["resolution_median_minutes"]) == (
        "76.0",
        "300.0",
    )
    assert (row["resolution_sla_percent"], row["csat_average"], row["goodwill_points"]) == (
        "75.0",
        "3.67",
        "380",
    )
    assert [line[1] for line in summary if line[0] == "merchant"] == ["Alpha", "Beta"]

    goodwill_csv = csv_rows(
        client.get(url, {"start": "2024-03-01", "end": "2024-03-31", "export": "goodwill"})
    )
    assert goodwill_csv[1:] == [
        ["Alpha", "complaint", "1", "200"],
        ["Alpha", "delivery_delay", "2", "150"],
        ["Beta", "other", "1", "30"],
    ]
    backlog = csv_rows(
        client.get(url, {"start": "2024-03-01", "end": "2024-03-31", "export": "backlog"})
    )
    assert backlog[1] == ["all", "All", "1", "1", "1", "1", "4"]


def test_a_name_a_spreadsheet_would_run_is_written_as_text(client, known):
    Merchant.objects.filter(pk=known["a"].pk).update(name="=HYPERLINK(1)")
    client.force_login(agent_make(available=False))
    rows = csv_rows(
        client.get(
            reverse(REPORTS), {"start": "2024-03-01", "end": "2024-03-31", "export": "goodwill"}
        )
    )
    assert rows[1][0] == "'=HYPERLINK(1)"


def test_the_page_defaults_to_the_last_30_days_and_is_linked_from_the_app(client, db):
    client.force_login(agent_make(available=False))
    response = client.get(reverse(REPORTS))
    assert response.status_code == 200
    today = timezone.localdate()
    assert response.context["form"].cleaned_data["start"] == today - datetime.timedelta(days=29)
    app = client.get(reverse("admin:app_list", args=["customercare"]))
    assert reverse(REPORTS).encode() in app.content


@pytest.mark.parametrize(
    "params",
    [
        {"start": "2024-03-31", "end": "2024-03-01"},
        {"start": "2020-01-01", "end": "2024-03-01"},
        {"start": "yesterday", "end": "2024-03-01"},
        {"start": "2024-03-01", "end": "2024-03-31", "merchant": "999999"},
        {"start": "9999-12-31", "end": "9999-12-31"},
        {"start": "0001-01-01", "end": "0001-01-02"},
    ],
)
def test_a_bad_range_is_a_form_error(client, db, params):
    client.force_login(agent_make(available=False))
    response = client.get(reverse(REPORTS), params)
    assert response.status_code == 400
    assert "errorlist" in response.content.decode()


def test_an_unknown_table_is_refused(client, db):
    client.force_login(agent_make(available=False))
    response = client.get(
        reverse(REPORTS), {"start": "2024-03-01", "end": "2024-03-31", "export": "salaries"}
    )
    assert response.status_code == 400


def test_staff_without_the_report_permission_get_403(client, db):
    agent_make(available=False)  # the groups exist
    user = StaffFactory()
    user.groups.add(Group.objects.get(name="Catalog"))
    client.force_login(user)
    assert client.get(reverse(REPORTS)).status_code == 403
    assert reverse(REPORTS).encode() not in client.get(reverse("admin:index")).content


# -- one merchant's figures, for the merchant portal ----------------------------------------------


MARCH_1, MARCH_31 = datetime.date(2024, 3, 1), datetime.date(2024, 3, 31)


def test_merchant_care_report_counts_the_merchant_s_tickets_with_the_admin_s_definitions(
    known, django_assert_max_num_queries
):
    with django_assert_max_num_queries(5):
        report = care_report(merchant=known["a"], start=MARCH_1, end=MARCH_31)
    # Four opened in March (the merged one goes with the ticket it went into); the
    # February ticket and the recent ones are outside.
    assert report.opened == 4
    # Resolved in March: a1, a2 and a3 (a3 on March 4th); the February one in February.
    assert report.resolved == 3
    assert report.first_response == Durations(4, minutes(25), minutes(37))
    assert report.resolution == Durations(3, hours(4), datetime.timedelta(hours=24, minutes=48))
    assert (report.csat.count, report.csat_average, report.satisfied_percent) == (
        2,
        Decimal("4.50"),
        Decimal("100.0"),
    )
    # The same figures the admin shows for this merchant.
    admin = care_operations_report(period=MARCH, now=known["now"], merchant=known["a"]).overall
    assert (admin.opened, admin.first_response, admin.resolution, admin.csat) == (
        report.opened,
        report.first_response,
        report.resolution,
        report.csat,
    )


def test_merchant_care_report_never_counts_another_merchant_s_tickets(known):
    report = care_report(merchant=known["b"], start=MARCH_1, end=MARCH_31)
    assert (report.opened, report.resolved) == (1, 1)  # resolved, then closed: still one
    assert report.first_response == Durations(1, minutes(100), minutes(100))
    assert report.resolution == Durations(1, hours(6), hours(6))
    assert (report.csat.count, report.csat_average, report.satisfied_percent) == (
        1,
        Decimal("2.00"),
        Decimal("0.0"),
    )


def test_merchant_care_report_of_an_empty_period_is_zeros_and_none(known):
    report = care_report(
        merchant=known["a"], start=datetime.date(2023, 6, 1), end=datetime.date(2023, 6, 30)
    )
    assert (report.opened, report.resolved) == (0, 0)
    assert report.first_response == report.resolution == Durations(0, None, None)
    assert (report.csat.count, report.csat_average, report.satisfied_percent) == (0, None, None)


def test_merchant_care_report_counts_by_the_merchant_s_local_days(db):
    shop = care_merchant()
    Merchant.objects.filter(pk=shop.pk).update(timezone="Pacific/Auckland")  # UTC+13 in March
    shop.refresh_from_db()
    ana = member_of(shop)
    early, late, inside = ticket_open(ana), ticket_open(ana), ticket_open(ana)
    # Feb 29, 11:30 UTC is March 1st, 00:30 in Auckland: in March there.
    Ticket.objects.filter(pk=early.pk).update(
        created_at=datetime.datetime(2024, 2, 29, 11, 30, tzinfo=UTC)
    )
    # March 31, 11:30 UTC is April 1st, 00:30 in Auckland: in April there.
    Ticket.objects.filter(pk=late.pk).update(
        created_at=datetime.datetime(2024, 3, 31, 11, 30, tzinfo=UTC)
    )
    Ticket.objects.filter(pk=inside.pk).update(
        created_at=datetime.datetime(2024, 3, 31, 10, 30, tzinfo=UTC)
    )
    assert care_report(merchant=shop, start=MARCH_1, end=MARCH_31).opened == 2
    april = care_report(
        merchant=shop, start=datetime.date(2024, 4, 1), end=datetime.date(2024, 4, 1)
    )
    assert april.opened == 1
    one_day = care_report(merchant=shop, start=MARCH_1, end=MARCH_1)
    assert one_day.opened == 1


def test_merchant_care_report_refuses_a_range_that_ends_before_it_starts(db):
    with pytest.raises(ValueError, match="ends before"):
        care_report(merchant=care_merchant(), start=MARCH_31, end=MARCH_1)
