"""The admin's member page, the unified customer view: the summary above every tab, one
tab at a time with a fixed number of queries, the tabs each staff group may open, and the
agent's actions that start there (adjust points, erase, open a ticket, resend)."""

import datetime
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from core.actors import Actor
from customercare.models import Ticket, TicketChannel, TicketMessage
from loyalty.models import LedgerEntry, Member, MemberStatus, PointLot, Program, Tier
from loyalty.services import members
from tests.catalog.factories import merchant_with_program
from tests.customercare.factories import member_of, ticket_open
from tests.fulfillment.factories import redemption_delivered
from tests.loyalty.factories import order_post
from tests.merchants.factories import staff_in

pytestmark = pytest.mark.django_db

TABS = [
    "points",
    "orders",
    "redemptions",
    "tickets",
    "tier",
    "segments",
    "achievements",
    "referrals",
    "consents",
    "history",
]


@pytest.fixture
def shop():
    merchant, _ = merchant_with_program()
    return merchant


@pytest.fixture
def member(shop) -> Member:
    return member_of(shop, 5000)


def page(member: Member, tab: str = "") -> str:
    url = reverse("admin:loyalty_member_change", args=[member.pk])
    return f"{url}?tab={tab}" if tab else url


def text_of(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_the_summary_shows_spendable_pending_and_soon_expiring_points_with_their_dates(
    admin_client, shop, member
):
    soon = timezone.now() + datetime.timedelta(days=9)
    PointLot.objects.filter(member=member).update(expires_at=soon)

    shown = text_of(admin_client.get(page(member)))

    assert "Spendable 5,000" in shown
    assert "Expiring in 30 days 5,000" in shown
    assert f"5,000 on {soon:%b} {soon.day}, {soon.year}" in shown


def test_every_tab_opens_and_reads_a_fixed_number_of_queries(
    admin_client, shop, member, django_assert_max_num_queries
):
    order_post(shop, member, "120", external_id="o-42")
    redemption_delivered(shop, member)
    ticket_open(member, subject="Where is my card?")
    admin_client.get(page(member))  # the sidebar's badges are counted once a minute

    for tab in ["", *TABS]:
        with django_assert_max_num_queries(40):
            response = admin_client.get(page(member, tab))
        assert response.status_code == 200, tab
        assert 'aria-current="page"' in response.content.decode(), tab

    assert "o-42" in text_of(admin_client.get(page(member, "orders")))
    points = text_of(admin_client.get(page(member, "points")))
    assert "for order o-42" in points
    # A spend names the reward it bought, not "a reward".
    assert re.search("\u2212[\\d,]+ \\w+: .+", points)
    assert ": a reward" not in points
    assert "Where is my card?" in text_of(admin_client.get(page(member, "tickets")))
    redemptions = text_of(admin_client.get(page(member, "redemptions")))
    assert "Delivered" in redemptions
    assert "Resend the delivery email" in redemptions


def test_the_profile_tab_saves_and_the_other_tabs_have_no_save_button(admin_client, member):
    profile = admin_client.get(page(member)).content.decode()
    points = admin_client.get(page(member, "points")).content.decode()

    assert 'name="_save"' in profile
    assert 'name="_save"' not in points
    assert 'name="email"' not in points


def test_an_unknown_tab_is_the_profile(admin_client, member):
    response = admin_client.get(page(member, "../../etc/passwd"))

    assert response.status_code == 200
    assert 'name="_save"' in response.content.decode()


@pytest.mark.parametrize(
    ("groups", "sees", "hidden"),
    [
        (("Customer care",), {"tickets", "redemptions", "history"}, set()),
        (("Finance",), {"points", "history"}, {"tickets"}),
    ],
)
def test_each_group_sees_the_tabs_its_rights_open(client, member, groups, sees, hidden):
    client.force_login(staff_in(*groups))

    response = client.get(page(member))
    if response.status_code == 403:
        pytest.skip(f"{groups} may not open members")
    content = response.content.decode()

    for tab in sees:
        assert f"?tab={tab}" in content, tab
    for tab in hidden:
        assert f"?tab={tab}" not in content, tab
        assert client.get(page(member, tab)).content.decode().count('name="_save"') <= 1


def test_a_care_agent_opens_a_ticket_from_the_member_page(client, member):
    agent = staff_in("Customer care")
    client.force_login(agent)
    assert "Open a ticket…" in client.get(page(member)).content.decode()
    url = reverse("admin:customercare_ticket_open", args=[member.pk])

    asked = client.get(url)
    refused = client.post(
        url,
        {
            "category": "missing_points",
            "priority": "normal",
            "subject": "Points for an order",
            "note": "On the phone.",
        },
    )
    opened = client.post(
        url,
        {
            "category": "other",
            "priority": "high",
            "subject": "Called about tiers",
            "note": "On the phone.",
        },
    )

    assert asked.status_code == 200
    assert refused.status_code == 400  # a missing-points claim names its order
    assert "names the order" in refused.content.decode()
    ticket = Ticket.objects.get(member=member)
    assert opened.status_code == 302
    assert opened["Location"] == reverse("admin:customercare_ticket_change", args=[ticket.pk])
    assert (ticket.channel, ticket.priority) == (TicketChannel.STAFF, "high")
    note = TicketMessage.objects.get(ticket=ticket)
    assert (note.body, note.kind) == ("On the phone.", "internal")


def test_who_may_not_work_tickets_cannot_open_one(client, member):
    client.force_login(staff_in("Finance"))
    url = reverse("admin:customercare_ticket_open", args=[member.pk])

    assert client.get(url).status_code == 403
    assert client.post(url, {"category": "other", "subject": "x", "note": "x"}).status_code == 403
    assert not Ticket.objects.exists()


def test_opening_a_ticket_for_an_unknown_or_erased_member_is_refused(admin_client, shop, member):
    members.member_anonymise(merchant=shop, member=member)

    assert (
        admin_client.get(reverse("admin:customercare_ticket_open", args=[member.pk])).status_code
        == 403
    )
    assert (
        admin_client.get(reverse("admin:customercare_ticket_open", args=[10**9])).status_code == 404
    )
    assert "Open a ticket…" not in admin_client.get(page(member)).content.decode()


def test_adjust_points_from_the_member_page_asks_then_writes_once(admin_client, member):
    url = reverse("admin:loyalty_member_act", args=[member.pk, "adjust_points"])
    assert "Adjust points…" in admin_client.get(page(member)).content.decode()

    asked = admin_client.get(url)
    bad = admin_client.post(url, {"apply": "1", "points": "0", "reason": "x"})
    done = admin_client.post(url, {"apply": "1", "points": "25", "reason": "Sorry"})

    assert asked.status_code == 200
    assert "Adjust points" in asked.content.decode()
    assert bad.status_code == 200
    assert "non-zero" in bad.content.decode()
    assert done.status_code == 302
    assert done["Location"] == page(member)
    member.refresh_from_db()
    assert member.points_balance == 5025
    assert LedgerEntry.objects.filter(member=member, kind="adjust", reason="Sorry").count() == 1


def test_the_history_tab_says_who_changed_what_and_why(admin_client, admin_user, shop, member):
    members.member_adjust_points(
        merchant=shop,
        member=member,
        points=-40,
        reason="Duplicate credit",
        actor=Actor.staff(admin_user),
    )
    admin_client.post(
        page(member),
        {
            "first_name": "Ana",
            "last_name": "Lima",
            "email": "ana@example.com",
            "phone": "",
            "country": "US",
            "locale": "",
            "birthday": "",
            "attributes": "{}",
        },
    )

    shown = text_of(admin_client.get(page(member, "history")))

    assert "Duplicate credit" in shown
    assert "\u221240 points by hand" in shown
    assert admin_user.get_username() in shown


def test_erasing_from_the_member_page_keeps_the_ledger(admin_client, shop, member):
    url = reverse("admin:loyalty_member_act", args=[member.pk, "anonymise"])

    admin_client.post(url, {"apply": "1", "confirm": "on"})

    member.refresh_from_db()
    assert member.status == MemberStatus.ANONYMISED or member.anonymised_at is not None
    assert member.email == ""
    assert LedgerEntry.objects.filter(member=member).exists()
    assert "Erase personal data…" not in admin_client.get(page(member)).content.decode()


def test_a_staff_user_without_the_right_gets_no_adjust_button_and_a_403(client, member):
    client.force_login(staff_in("Customer care"))

    content = client.get(page(member)).content.decode()
    response = client.post(
        reverse("admin:loyalty_member_act", args=[member.pk, "adjust_points"]),
        {"apply": "1", "points": "5", "reason": "x"},
    )

    assert "Adjust points…" not in content
    assert response.status_code == 403


def test_a_member_whose_points_reach_a_higher_tier_is_told_so(admin_client, shop, member):
    order_post(shop, member, "120")  # earned before the program had tiers: no move yet
    program = Program.objects.get(merchant=shop, is_active=True)
    Program.objects.filter(pk=program.pk).update(tiers_enabled=True)
    Tier.objects.create(program=program, name="Silver", threshold=Decimal(1))
    Tier.objects.create(program=program, name="Gold", threshold=Decimal(10**7))

    shown = text_of(admin_client.get(page(member)))

    assert "Already qualifies for Silver" in shown
    assert "to Gold" in shown


@pytest.mark.parametrize("points", ["99999999999999999999999", "-1000000000001", "1e3", ""])
def test_adjusting_by_an_impossible_number_of_points_is_refused(admin_client, member, points):
    url = reverse("admin:loyalty_member_act", args=[member.pk, "adjust_points"])

    response = admin_client.post(url, {"apply": "1", "points": points, "reason": "x"})

    assert response.status_code == 200  # the form again, with its error
    assert "errorlist" in response.content.decode()
    member.refresh_from_db()
    assert member.points_balance == 5000
