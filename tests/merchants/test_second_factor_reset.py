"""Operations reset a portal user's second factor after a verified request: the
authenticator and recovery codes go, an owner sets up a new one at the next sign-in, and
the merchant's history says who did it and why."""

import pytest
from allauth.mfa.models import Authenticator
from django.contrib.auth.models import Group
from django.urls import reverse

from core.actors import Actor
from core.exceptions import ReasonRequired
from core.staff_groups import staff_groups_sync
from merchants.models import MerchantEvent, MerchantMembership
from merchants.services import team
from tests.catalog.factories import merchant_with_program
from tests.merchants.factories import StaffFactory
from tests.portals.factories import portal_user, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    merchant, _ = merchant_with_program()
    user = portal_user(merchant, "owner")
    assert Authenticator.objects.filter(user=user).exists()
    return MerchantMembership.objects.get(user=user, merchant=merchant)


def ops_user(group: str = "Operations"):
    staff_groups_sync()
    user = StaffFactory()
    user.groups.add(Group.objects.get(name=group))
    return user


def test_the_reset_removes_the_authenticators_and_records_why(owner):
    staff = ops_user()

    removed = team.portal_user_second_factor_reset(
        membership=owner,
        reason="Called from the shop's number; lost phone",
        actor=Actor.staff(staff),
    )

    assert removed >= 1
    assert not Authenticator.objects.filter(user=owner.user).exists()
    event = MerchantEvent.objects.filter(merchant=owner.merchant).latest("pk")
    assert "second factor reset" in event.reason
    assert "lost phone" in event.reason
    assert event.actor_label == staff.get_username()


def test_a_reset_without_a_reason_is_refused_and_changes_nothing(owner):
    with pytest.raises(ReasonRequired):
        team.portal_user_second_factor_reset(
            membership=owner, reason="  ", actor=Actor.staff(ops_user())
        )
    assert Authenticator.objects.filter(user=owner.user).exists()


def test_the_owner_sets_up_a_new_one_at_the_next_sign_in(owner):
    team.portal_user_second_factor_reset(
        membership=owner, reason="verified by video call", actor=Actor.staff(ops_user())
    )

    response = signed_in(owner.user).get(reverse("portals:dashboard"))

    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")


def test_operations_reset_from_the_memberships_list_with_a_reason(client, owner):
    client.force_login(ops_user())
    url = reverse("admin:merchants_merchantmembership_changelist")
    data = {"action": "reset_second_factor", "_selected_action": [owner.pk]}

    confirm = client.post(url, data)
    assert confirm.status_code == 200
    assert Authenticator.objects.filter(user=owner.user).exists()  # asks first

    done = client.post(url, {**data, "apply": "1", "reason": "ticket CS-12, ID checked"})
    assert done.status_code == 302
    assert not Authenticator.objects.filter(user=owner.user).exists()


def test_finance_cannot_reset_a_second_factor(client, owner):
    client.force_login(ops_user("Finance"))
    response = client.post(
        reverse("admin:merchants_merchantmembership_changelist"),
        {
            "action": "reset_second_factor",
            "_selected_action": [owner.pk],
            "apply": "1",
            "reason": "x",
        },
    )
    assert response.status_code in (302, 403)
    assert Authenticator.objects.filter(user=owner.user).exists()
