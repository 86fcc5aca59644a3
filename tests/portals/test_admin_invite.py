"""Operations invite a portal user from the merchant's admin page, through the portal's
own invitation service."""

import pytest
from django.core import mail
from django.urls import reverse

from core.staff_groups import staff_groups_sync
from merchants.models import MerchantEvent, MerchantMembership
from tests.merchants.factories import staff_in
from tests.portals.factories import portal_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops(db):
    staff_groups_sync()
    return staff_in("Operations")


def test_ops_invite_a_portal_user_from_the_merchant_page(
    client, ops, merchant, django_capture_on_commit_callbacks
):
    client.force_login(ops)
    page = reverse("admin:merchants_merchant_change", args=[merchant.pk])
    invite = reverse("admin:merchants_merchant_invite_portal_user", args=[merchant.pk])
    assert invite in client.get(page).content.decode()
    assert client.get(invite).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(invite, {"email": "Owner@Shop.example", "role": "owner"})

    assert response.status_code == 302
    membership = MerchantMembership.objects.get(merchant=merchant)
    assert membership.user.email == "owner@shop.example"
    assert membership.role == "owner"
    event = MerchantEvent.objects.filter(merchant=merchant).first()
    assert event.reason == "owner@shop.example invited as owner"
    assert event.actor == ops
    assert mail.outbox[0].to == ["owner@shop.example"]
    assert "/portal/password/reset/key/" in mail.outbox[0].body


def test_the_admin_invite_shows_the_services_refusal_on_the_form(client, ops, merchant):
    portal_user(merchant, "analyst", email="ana@example.com")
    client.force_login(ops)
    invite = reverse("admin:merchants_merchant_invite_portal_user", args=[merchant.pk])

    response = client.post(invite, {"email": "ana@example.com", "role": "owner"})

    assert response.status_code == 200
    assert "already on the team" in response.content.decode()
    assert MerchantMembership.objects.get(merchant=merchant).role == "analyst"


def test_staff_outside_operations_get_no_invite_button(client, merchant):
    staff_groups_sync()
    client.force_login(staff_in("Finance"))
    page = client.get(reverse("admin:merchants_merchant_change", args=[merchant.pk]))
    invite = reverse("admin:merchants_merchant_invite_portal_user", args=[merchant.pk])
    assert invite not in page.content.decode()
    assert client.get(invite).status_code == 403


def test_the_merchant_page_lists_portal_users_for_reading_only(client, ops, merchant):
    portal_user(merchant, "owner", email="olga@example.com")
    client.force_login(ops)
    response = client.get(reverse("admin:merchants_merchant_change", args=[merchant.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "olga@example.com" in page
    assert "memberships-TOTAL_FORMS" in page  # the inline is there, under this prefix
    assert 'name="memberships-0-role"' not in page
    assert 'name="memberships-__prefix__-user"' not in page
