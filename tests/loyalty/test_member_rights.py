"""What each staff group may do to members in the admin: adjusting points is Operations'
alone (care agents give points only as goodwill on a ticket), erasing personal data
Operations' and the Care leads', exporting every merchant's members Operations'."""

import pytest
from django.urls import reverse

from loyalty.models import LedgerEntry, Member, MemberStatus
from tests.customercare.factories import care_merchant, member_of
from tests.merchants.factories import staff_in

pytestmark = pytest.mark.django_db

MEMBERS = reverse("admin:loyalty_member_changelist")
EXPORT = reverse("admin:loyalty_member_export")


@pytest.fixture
def member():
    return member_of(care_merchant(), 100)


def adjust(client, member: Member, points: int):
    return client.post(
        MEMBERS,
        {
            "action": "adjust_points",
            "_selected_action": [member.pk],
            "apply": "1",
            "points": str(points),
            "reason": "because",
        },
    )


def offered(client) -> set[str]:
    response = client.get(MEMBERS)
    assert response.status_code == 200
    form = response.context["action_form"]  # None: the list has no action for the user
    return {name for name, _ in form.fields["action"].choices} if form else set()


@pytest.mark.parametrize("groups", [("Customer care",), ("Customer care", "Care leads")])
def test_a_care_agent_cannot_credit_points_from_the_member_list(client, member, groups):
    client.force_login(staff_in(*groups))
    entries = LedgerEntry.objects.filter(member=member).count()

    response = adjust(client, member, 100_000)

    assert response.status_code == 403
    assert LedgerEntry.objects.filter(member=member).count() == entries
    member.refresh_from_db()
    assert member.points_balance == 100
    assert "adjust_points" not in offered(client)


def test_operations_adjust_points_from_the_member_list(client, member):
    ops = staff_in("Operations")
    client.force_login(ops)
    assert "adjust_points" in offered(client)

    response = adjust(client, member, 250)

    assert response.status_code == 302
    entry = LedgerEntry.objects.get(member=member, actor=ops)
    assert (entry.points, entry.actor) == (250, ops)


def test_a_care_agent_still_edits_a_members_profile(client, member):
    client.force_login(staff_in("Customer care"))
    page = reverse("admin:loyalty_member_change", args=[member.pk])

    assert client.get(page).context["has_change_permission"] is True


@pytest.mark.parametrize(
    ("groups", "may"),
    [
        (("Operations",), True),
        (("Customer care", "Care leads"), True),
        (("Customer care",), False),
        (("Finance",), False),
    ],
)
def test_anonymising_is_for_operations_and_care_leads(client, member, groups, may):
    client.force_login(staff_in(*groups))

    response = client.post(
        MEMBERS,
        {"action": "anonymise", "_selected_action": [member.pk], "apply": "1", "confirm": "on"},
    )

    member.refresh_from_db()
    assert response.status_code == (302 if may else 403)
    assert (member.status == MemberStatus.ANONYMISED) is may
    assert member.email == ("" if may else "ana@example.com")


@pytest.mark.parametrize(
    ("groups", "may"),
    [
        (("Operations",), True),
        (("Customer care",), False),
        (("Customer care", "Care leads"), False),
        (("Finance",), False),
    ],
)
def test_only_operations_export_members(client, member, groups, may):
    client.force_login(staff_in(*groups))

    asked = client.get(EXPORT)
    downloaded = client.post(EXPORT, {"format": "0", "resource": "0", "export_items": []})

    assert asked.status_code == downloaded.status_code == (200 if may else 403)
    assert (EXPORT in client.get(MEMBERS).content.decode()) is may
