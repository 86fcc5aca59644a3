"""Provider staff with the right open a merchant's portal as the merchant, from the
merchant's page in the admin: that merchant's pages as its owner sees them, a banner on
every page, every write refused, and an audit row of who, when, which merchant and how it
ended (from the banner, by signing out, or when its time is up)."""

import datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from merchants.models import (
    MerchantEvent,
    MerchantMembership,
    PortalViewAs,
    ViewAsEnd,
    WebhookEndpoint,
)
from merchants.services.view_as import SESSION_KEY
from tests.merchants.factories import staff_in
from tests.portals.factories import portal_user
from tests.portals.test_tenancy import OWN_ARGS, TABLE, WITH_ARGS, WITHOUT_ARGS, markers
from tests.portals.urltable import portal_url_names

pytestmark = pytest.mark.django_db


def view_portal_url(merchant) -> str:
    return reverse("admin:merchants_merchant_view_portal", args=[merchant.pk])


def viewing(merchant, group: str = "Operations") -> tuple[Client, object]:
    """A staff user of ``group``, viewing ``merchant``'s portal."""
    staff = staff_in(group)
    client = Client()
    client.force_login(staff)
    response = client.post(view_portal_url(merchant))
    assert response.status_code == 302
    assert response["Location"] == "/portal/"
    return client, staff


def portal_state(side) -> list:
    """What a write in the portal could change for ``side``'s merchant."""
    return [
        list(MerchantMembership.objects.filter(merchant=side.merchant).values("pk", "role")),
        list(WebhookEndpoint.objects.filter(merchant=side.merchant).values()),
        MerchantEvent.objects.filter(merchant=side.merchant).count(),
    ]


@pytest.mark.parametrize("group", ["Operations", "Customer care"])
def test_with_the_right_the_link_opens_the_merchants_dashboard_with_a_banner(pair, group):
    a, b = pair
    staff = staff_in(group)
    client = Client()
    client.force_login(staff)
    page = client.get(reverse("admin:merchants_merchant_change", args=[a.merchant.pk]))
    assert view_portal_url(a.merchant) in page.text
    assert "View the portal as this merchant" in page.text
    assert client.get(view_portal_url(a.merchant)).status_code == 200
    assert not PortalViewAs.objects.exists()  # opening the page starts nothing

    assert client.post(view_portal_url(a.merchant))["Location"] == "/portal/"
    dashboard = client.get("/portal/")

    assert dashboard.status_code == 200
    text = dashboard.text
    assert "view-as-banner" in text
    assert f"Viewing <strong>{a.merchant.name}</strong>" in text
    assert staff.email in text
    assert "read-only" in text
    assert reverse("portals:view_as_end") in text
    for marker in markers(b):
        assert marker not in text
    view_as = PortalViewAs.objects.get()
    assert (view_as.merchant, view_as.staff, view_as.staff_label) == (
        a.merchant,
        staff,
        staff.username,
    )
    assert view_as.ended_at is None
    assert view_as.expires_at - view_as.started_at == datetime.timedelta(minutes=30)
    event = MerchantEvent.objects.filter(merchant=a.merchant).latest("pk")
    assert event.kind == MerchantEvent.Kind.PORTAL_VIEWED_AS
    assert event.actor == staff


def test_every_portal_page_shows_the_banner(pair):
    a, _ = pair
    client, _ = viewing(a.merchant)
    for name in sorted(portal_url_names() - {"view_as_end", "brand_css", "monthly_report_draft"}):
        args = TABLE[name]
        response = client.get(
            reverse(f"portals:{name}", kwargs=args(a) if args else OWN_ARGS.get(name))
        )
        assert response.status_code in (200, 403), name
        if response["Content-Type"].startswith("text/html"):
            assert "view-as-banner" in response.text, name


@pytest.mark.parametrize("group", ["Finance", "Catalog", "Marketing", "Fulfillment"])
def test_without_the_right_there_is_no_link_and_the_page_is_refused(pair, group):
    a, _ = pair
    staff = staff_in(group)
    client = Client()
    client.force_login(staff)

    page = client.get(reverse("admin:merchants_merchant_change", args=[a.merchant.pk]))

    assert view_portal_url(a.merchant) not in page.text
    assert client.get(view_portal_url(a.merchant)).status_code == 403
    assert client.post(view_portal_url(a.merchant)).status_code == 403
    assert not PortalViewAs.objects.exists()
    assert client.get("/portal/").status_code == 403  # not on any merchant's team


def test_the_view_cannot_be_opened_by_get_or_without_the_csrf_token(pair):
    a, _ = pair
    staff = staff_in("Operations")
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)

    assert client.post(view_portal_url(a.merchant)).status_code == 403
    assert client.get(view_portal_url(a.merchant)).status_code == 200
    assert not PortalViewAs.objects.exists()
    assert SESSION_KEY not in client.session


def portal_posts(side) -> list[str]:
    """Every portal URL, with the arguments of ``side``'s own objects, and allauth's pages
    of the signed-in user under /portal/."""
    urls = []
    for name in sorted(portal_url_names() - {"view_as_end"}):
        args = TABLE[name]
        urls.append(reverse(f"portals:{name}", kwargs=args(side) if args else OWN_ARGS.get(name)))
    return [
        *urls,
        reverse("account_change_password"),
        reverse("account_set_password"),
        reverse("account_reauthenticate"),
        reverse("mfa_activate_totp"),
        reverse("mfa_deactivate_totp"),
        reverse("mfa_generate_recovery_codes"),
    ]


def test_every_write_in_the_portal_is_refused_during_the_view(pair):
    a, _ = pair
    urls = portal_posts(a)  # the objects the URLs name are made first
    client, _ = viewing(a.merchant)
    before = portal_state(a)
    data = {
        "role": "support",
        "email": "intruder@example.com",
        "url": "https://evil.example/hook",
        "event_types": ["member.created"],
        "action": "disable",
        "password": "x",
        "code": "123456",
        "membership": "1",
    }

    for url in urls:
        for method in (client.post, client.put, client.patch, client.delete):
            response = method(url, data)
            assert response.status_code == 403, (method.__name__, url, response.status_code)
            assert "Nothing can be changed in this view" in response.text, url

    assert portal_state(a) == before
    assert PortalViewAs.objects.get().ended_at is None  # refusals do not end it


def test_another_merchants_pages_are_not_reachable_by_changing_ids(pair):
    a, b = pair
    client, _ = viewing(b.merchant)
    for name in WITH_ARGS:
        response = client.get(reverse(f"portals:{name}", kwargs=TABLE[name](a)))
        assert response.status_code == 404, name
        for text in markers(a):
            assert text not in response.content.decode(errors="replace"), name
    for name in WITHOUT_ARGS:
        if name == "view_as_end":
            continue
        response = client.get(reverse(f"portals:{name}", kwargs=OWN_ARGS.get(name)))
        page = response.content.decode(errors="replace")
        for text in markers(a):
            assert text not in page, name


def test_a_staff_user_on_another_merchants_team_sees_only_the_viewed_merchant(pair):
    a, b = pair
    staff = staff_in("Operations")
    MerchantMembership.objects.create(merchant=a.merchant, user=staff, role="owner")
    client = Client()
    client.force_login(staff)
    client.post(view_portal_url(b.merchant))

    page = client.get("/portal/").text

    assert b.merchant.name in page
    assert a.merchant.name not in page


def test_the_end_button_ends_the_view_and_records_it(pair):
    a, _ = pair
    client, _ = viewing(a.merchant)

    response = client.post(reverse("portals:view_as_end"))

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:merchants_merchant_change", args=[a.merchant.pk])
    view_as = PortalViewAs.objects.get()
    assert view_as.ended_at is not None
    assert view_as.end_reason == ViewAsEnd.ENDED
    assert SESSION_KEY not in client.session
    assert client.get("/portal/").status_code == 403  # the staff user is on no team


def test_signing_out_ends_the_view(pair):
    a, _ = pair
    client, _ = viewing(a.merchant)

    assert client.post(reverse("account_logout")).status_code == 302

    view_as = PortalViewAs.objects.get()
    assert view_as.end_reason == ViewAsEnd.SIGNED_OUT
    assert view_as.ended_at is not None


def test_signing_out_of_the_admin_ends_it_too(pair):
    a, _ = pair
    client, _ = viewing(a.merchant)

    client.post(reverse("admin:logout"))

    assert PortalViewAs.objects.get().end_reason == ViewAsEnd.SIGNED_OUT


def test_the_view_ends_by_itself_when_its_time_is_up(pair):
    a, _ = pair
    client, _ = viewing(a.merchant)
    lapsed = timezone.now() - datetime.timedelta(seconds=1)
    PortalViewAs.objects.update(expires_at=lapsed)

    response = client.get("/portal/")

    assert response.status_code == 403
    assert a.merchant.name not in response.text
    view_as = PortalViewAs.objects.get()
    assert (view_as.ended_at, view_as.end_reason) == (lapsed, ViewAsEnd.EXPIRED)
    assert SESSION_KEY not in client.session


def test_losing_the_right_ends_the_view(pair):
    a, _ = pair
    client, staff = viewing(a.merchant)
    staff.groups.clear()

    assert client.get("/portal/").status_code == 403
    assert PortalViewAs.objects.get().end_reason == ViewAsEnd.REVOKED


def test_a_new_view_replaces_the_open_one(pair):
    a, b = pair
    staff = staff_in("Operations")
    client = Client()
    client.force_login(staff)
    client.post(view_portal_url(a.merchant))
    client.post(view_portal_url(b.merchant))

    first, second = PortalViewAs.objects.order_by("pk")
    assert first.end_reason == ViewAsEnd.REPLACED
    assert second.ended_at is None
    assert b.merchant.name in client.get("/portal/").text


def test_downloads_are_reads_and_are_counted(pair):
    a, _ = pair
    client, _ = viewing(a.merchant)

    response = client.get(reverse("portals:report_csv", args=["points"]))

    assert response.status_code == 200
    assert PortalViewAs.objects.get().downloads == 1


def test_another_sessions_view_is_not_borrowed(pair):
    """The session names a view; a view of another staff user is not theirs."""
    a, _ = pair
    _, first = viewing(a.merchant)
    second = staff_in("Operations")
    client = Client()
    client.force_login(second)
    session = client.session
    session[SESSION_KEY] = PortalViewAs.objects.get(staff=first).pk
    session.save()

    assert client.get("/portal/").status_code == 403


def test_a_merchants_own_user_is_unaffected(pair):
    a, _ = pair
    owner_client = Client()
    owner_client.force_login(a.owner)

    page = owner_client.get("/portal/")

    assert page.status_code == 200
    assert "view-as-banner" not in page.text
    assert owner_client.post(reverse("portals:view_as_end"))["Location"] == "/portal/"


def test_a_portal_user_cannot_start_a_view():
    from tests.merchants.factories import MerchantFactory

    merchant = MerchantFactory(live=True)
    user = portal_user(merchant, "owner")
    client = Client()
    client.force_login(user)

    assert client.post(view_portal_url(merchant)).status_code == 302  # to the admin's sign-in
    assert not PortalViewAs.objects.exists()
