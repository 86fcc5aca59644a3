"""The admin toolkit's confirm-then-apply routine (``core.admin.actions``), through the
member list's "Adjust points" action: a confirm page first, then the service once per
selected member, each outcome a message, and the permission checked before anything."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from loyalty.models import LedgerEntry
from tests.customercare.factories import care_merchant, member_of
from tests.merchants.factories import staff_in

pytestmark = pytest.mark.django_db

MEMBERS = reverse("admin:loyalty_member_changelist")


def adjust(client, members, **form):
    return client.post(
        MEMBERS,
        {"action": "adjust_points", "_selected_action": [m.pk for m in members], **form},
        follow="apply" in form,
    )


@pytest.fixture
def members():
    merchant = care_merchant()
    return [member_of(merchant, 100), member_of(merchant, 200)]


def test_the_action_first_shows_a_confirm_page_that_posts_the_selection_back(client, members):
    client.force_login(staff_in("Operations"))

    response = adjust(client, members)

    assert response.status_code == 200
    assert next(t.name for t in response.templates) == "admin/ops_action_form.html"
    assert response.context["objects"] == members
    assert response.context["action"] == "adjust_points"
    content = response.content.decode()
    assert 'name="action" value="adjust_points"' in content
    for member in members:
        assert f'name="_selected_action" value="{member.pk}"' in content
    assert not LedgerEntry.objects.filter(actor__isnull=False).exists()


def test_an_invalid_form_shows_the_page_again_and_calls_nothing(client, members):
    client.force_login(staff_in("Operations"))

    response = adjust(client, members, apply="1", points="0", reason="typo")

    assert response.status_code == 200
    assert response.context["form"].errors["points"]
    assert not LedgerEntry.objects.filter(actor__isnull=False).exists()


def test_confirming_calls_the_service_per_member_and_an_error_is_that_members_message(
    client, members
):
    poor, rich = members
    ops = staff_in("Operations")
    client.force_login(ops)

    response = adjust(client, members, apply="1", points="-150", reason="returned goods")

    assert response.status_code == 200
    said = [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]
    assert said[0][0] == "error"
    assert said[0][1].startswith(f"{poor}: ")
    assert said[1] == ("success", f"{rich}: -150 points, balance 50.")
    assert not LedgerEntry.objects.filter(member=poor, actor=ops).exists()
    assert LedgerEntry.objects.get(member=rich, actor=ops).points == -150


def test_a_user_without_the_actions_permission_gets_403_and_nothing_runs(client, members):
    client.force_login(staff_in("Customer care"))

    response = adjust(client, members, apply="1", points="50", reason="goodwill")

    assert response.status_code == 403
    assert not LedgerEntry.objects.filter(actor__isnull=False).exists()
